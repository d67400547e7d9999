import { readFile, readdir, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { DataError } from '../errors.ts';

// Node's ENOENT/EISDIR messages name a syscall, not what the user got wrong in the spec.
function explain(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'not found';
  if (code === 'EISDIR') return 'is a folder, expected a file';
  if (code === 'ENOTDIR') return 'is not a folder';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
}

export async function readBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new DataError(`cannot read file: ${explain(err)}`, file);
  }
}

export async function readText(file: string): Promise<string> {
  return (await readBytes(file)).toString('utf8');
}

export async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new DataError(`cannot read folder: ${explain(err)}`, dir);
  }
}

/** What is at a path, if anything: one check for "exists", "is a folder" and "is a file". */
export async function pathKind(path: string): Promise<'file' | 'folder' | 'other' | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return undefined;
  return info.isDirectory() ? 'folder' : info.isFile() ? 'file' : 'other';
}

/** Code-point order: locale-aware sorting would make class order depend on the machine. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
