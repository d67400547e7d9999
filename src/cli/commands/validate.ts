import { SpecError } from '../../errors.ts';
import { loadSpec } from '../load-spec.ts';
import type { Io } from '../io.ts';

/** Check every file and report every issue of every file, not just the first. */
export async function validateCommand(files: string[], io: Io): Promise<number> {
  let invalid = 0;
  for (const file of files) {
    try {
      const spec = await loadSpec(file);
      io.out(`${file}: ok (${spec.plan.variants.length} variant${spec.plan.variants.length === 1 ? '' : 's'})`);
    } catch (err) {
      if (!(err instanceof SpecError)) throw err;
      invalid++;
      io.err(err.message);
    }
  }
  return invalid ? 1 : 0;
}
