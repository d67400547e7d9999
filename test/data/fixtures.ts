// Tiny fixtures written at test time, so no binary files live in the repository.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { after } from 'node:test';

/**
 * The shipped Fashion-MNIST sample (data/README.md): Zalando's own gzipped IDX format, the first
 * 600 training images of each of classes 5-9, labels kept as 5-9.
 */
export const FASHION_SAMPLE = fileURLToPath(new URL('../../data/quickstart/', import.meta.url));

/** A fresh temp folder, removed when the test file finishes. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tunespec-data-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function idxBytes(dims: number[], data: ArrayLike<number>, dtype = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = dtype;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(Uint8Array.from(data))]);
}

export async function writeIdx(file: string, dims: number[], data: ArrayLike<number>, gzip = false): Promise<string> {
  const bytes = idxBytes(dims, data);
  await write(file, gzip ? gzipSync(bytes) : bytes);
  return file;
}

/** `rgba` gives each pixel as [r, g, b, a]. */
export function pngBytes(width: number, height: number, pixel: (x: number, y: number) => number[]): Buffer {
  const png = new pngjs.PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) png.data.set(pixel(x, y), (y * width + x) * 4);
  }
  return pngjs.PNG.sync.write(png);
}

export function jpegBytes(width: number, height: number, pixel: (x: number, y: number) => number[]): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 4);
  }
  return jpeg.encode({ width, height, data }, 100).data;
}

export async function write(file: string, content: string | Uint8Array): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content);
  return file;
}
