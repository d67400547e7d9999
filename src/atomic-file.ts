import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Unique per call, also across hosts sharing a folder (where pids repeat). */
function unique(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Write then rename, so a reader never sees half a file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${unique()}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** Where `replaceDir` parks the folder it replaces: hidden, so stores never list it as a result. */
const REPLACED = (to: string): string => `.replaced-${basename(to)}-`;

/**
 * Move a finished folder into place, replacing an older one (a failed attempt, or `--force`).
 * Two renames, so a crash between them leaves the older folder parked aside: `restoreReplaced`
 * puts it back.
 */
export async function replaceDir(from: string, to: string): Promise<void> {
  const old = join(dirname(to), `${REPLACED(to)}${unique()}`);
  await rename(to, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await rename(from, to);
  await rm(old, { recursive: true, force: true });
}

/**
 * Undo what a `replaceDir` that died half-way left: the parked folder goes back when nothing took
 * its place, and is removed when something did. Only for a caller that owns `to` (holds its lock).
 * Returns the names it dealt with.
 */
export async function restoreReplaced(to: string): Promise<string[]> {
  const parked = (await readdir(dirname(to)).catch(() => [] as string[])).filter((n) => n.startsWith(REPLACED(to)));
  for (const name of parked) {
    await rename(join(dirname(to), name), to).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      await rm(join(dirname(to), name), { recursive: true, force: true });
    });
  }
  return parked;
}
