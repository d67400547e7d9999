import { join } from 'node:path';
import { DataError } from '../errors.ts';
import { byCodePoint, listDir, readBytes } from './files.ts';
import { decodeImage } from './image-decode.ts';
import { resizeBilinearInto, toChannels } from './image-ops.ts';
import type { RawExamples, ReadFilter } from './raw.ts';

export interface ImageFolderOptions {
  height: number;
  width: number;
  channels: 1 | 3;
}

interface Entry {
  file: string;
  label: string;
}

// Hidden files (.DS_Store, editor swap files) are never images someone meant to train on; any
// other non-image file is reported rather than skipped, since silently dropping data hides bugs.
function isCandidate(name: string): boolean {
  return !name.startsWith('.');
}

async function listEntries(root: string, filter: ReadFilter): Promise<Entry[]> {
  const classDirs = (await listDir(root))
    .filter((d) => d.isDirectory() && isCandidate(d.name))
    .map((d) => d.name)
    .sort(byCodePoint);
  if (classDirs.length === 0) throw new DataError('no class sub-folders found (expected one folder of images per class)', root);
  const entries: Entry[] = [];
  for (const label of classDirs) {
    if (filter.keepLabel && !filter.keepLabel(label)) continue;
    const dir = join(root, label);
    const names = (await listDir(dir))
      .filter((d) => (d.isFile() || d.isSymbolicLink()) && isCandidate(d.name))
      .map((d) => d.name)
      .sort(byCodePoint);
    const kept = filter.limitPerClass === undefined ? names : names.slice(0, filter.limitPerClass);
    for (const name of kept) entries.push({ file: join(dir, name), label });
  }
  return entries;
}

/** Reads `root/<class>/<image>`; "file order" within a class is file-name order. */
export async function readImageFolder(root: string, opts: ImageFolderOptions, filter: ReadFilter = {}): Promise<RawExamples> {
  const { height, width, channels } = opts;
  const entries = await listEntries(root, filter);
  if (entries.length === 0) throw new DataError('no images found in the class sub-folders', root);
  const size = height * width * channels;
  const values = new Float32Array(entries.length * size);
  for (let i = 0; i < entries.length; i++) {
    const { file } = entries[i]!;
    const img = decodeImage(await readBytes(file), file);
    resizeBilinearInto(toChannels(img, channels), img.height, img.width, channels, height, width, values, i * size);
  }
  return { values, exampleShape: [height, width, channels], labels: entries.map((e) => e.label), source: root };
}
