import { SpecError, TunespecError } from '../../errors.ts';
import { loadSpec } from '../../app/load-spec.ts';
import type { Io } from '../io.ts';

/**
 * Check every file and report every issue of every file, not just the first. A file that cannot
 * be read does not stop the others; it makes the exit code 2 (a usage error), as for one file.
 */
export async function validateCommand(files: string[], io: Io): Promise<number> {
  let invalid = 0;
  let unreadable = 0;
  for (const file of files) {
    try {
      const spec = await loadSpec(file);
      io.out(`${file}: ok (${spec.plan.variants.length} variant${spec.plan.variants.length === 1 ? '' : 's'})`);
    } catch (err) {
      if (err instanceof SpecError) {
        invalid++;
        io.err(err.message);
      } else if (err instanceof TunespecError && err.code === 'USAGE') {
        unreadable++;
        io.err(`tunespec: ${err.message}`);
      } else {
        throw err;
      }
    }
  }
  return unreadable ? 2 : invalid ? 1 : 0;
}
