import { SpecError, TunespecError, formatWarning } from '../../errors.ts';
import { loadSpec } from '../../app/load-spec.ts';
import type { Io } from '../io.ts';
import { excerpt } from '../../spec/hints.ts';

/**
 * Check every file and report every issue of every file, not just the first. Nothing one file
 * does stops the others: a file that cannot be read makes the exit code 2 (a usage error), as
 * for one file, and even a failure inside tunespec is reported against its file and the rest
 * are still checked.
 */
export async function validateCommand(files: string[], io: Io, opts: { debug?: boolean } = {}): Promise<number> {
  let invalid = 0;
  let unreadable = 0;
  for (const file of files) {
    try {
      const spec = await loadSpec(file);
      for (const w of spec.warnings) io.err(formatWarning(w));
      io.out(`${file}: ok (${spec.plan.variants.length} variant${spec.plan.variants.length === 1 ? '' : 's'})`);
    } catch (err) {
      if (err instanceof SpecError) {
        invalid++;
        io.err(err.message);
      } else if (err instanceof TunespecError && err.code === 'USAGE') {
        unreadable++;
        io.err(`tunespec: ${err.message}`);
      } else if (err instanceof TunespecError) {
        invalid++;
        io.err(`${file}: ${err.message}`);
      } else {
        invalid++;
        if (opts.debug) io.err((err as Error).stack ?? String(err));
        io.err(`${file}: tunespec: internal error: ${excerpt((err as Error).message, 300)}${opts.debug ? '' : ' (--debug shows the stack)'}`);
      }
    }
  }
  return unreadable ? 2 : invalid ? 1 : 0;
}
