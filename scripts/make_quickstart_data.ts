/**
 * Write the quickstart data sample (data/quickstart/*.gz): the first 600
 * examples (in file order) of EACH of Fashion-MNIST classes 5-9 from the TRAIN
 * split, i.e. the classes the shipped base model (models/fashion-base, trained on
 * classes 0-4) has never seen. Labels keep their original values 5-9.
 *
 * Pure Node (fs + zlib). Output is byte-for-byte deterministic: zlib.gzipSync
 * writes no mtime/filename, and the level is fixed.
 *
 * Usage: npx tsx scripts/make_quickstart_data.ts [SRC_DIR] [OUT_DIR]
 *   SRC_DIR defaults to /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)
 *   OUT_DIR defaults to data/quickstart
 * or: npm run make:quickstart-data
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import zlib from 'node:zlib';

const SRC_DIR = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const OUT_DIR = process.argv[3] ?? 'data/quickstart';
const CLASSES = [5, 6, 7, 8, 9];
const PER_CLASS = 600;
const IMAGES_MAGIC = 0x00000803; // unsigned byte, 3 dims
const LABELS_MAGIC = 0x00000801; // unsigned byte, 1 dim

interface Idx {
  dims: number[];
  data: Buffer;
}

function readIdx(file: string, expectedMagic: number): Idx {
  const raw = zlib.gunzipSync(readFileSync(file));
  const magic = raw.readUInt32BE(0);
  if (magic !== expectedMagic) {
    throw new Error(`${file}: magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${expectedMagic.toString(16).padStart(8, '0')}`);
  }
  const ndim = magic & 0xff;
  const dims = Array.from({ length: ndim }, (_, i) => raw.readUInt32BE(4 + 4 * i));
  const data = raw.subarray(4 + 4 * ndim);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new Error(`${file}: ${data.length} data bytes, header says ${expected}`);
  return { dims, data };
}

function idxHeader(magic: number, dims: number[]): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return h;
}

function main(): void {
  const images = readIdx(path.join(SRC_DIR, 'train-images-idx3-ubyte.gz'), IMAGES_MAGIC);
  const labels = readIdx(path.join(SRC_DIR, 'train-labels-idx1-ubyte.gz'), LABELS_MAGIC);
  const [count, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) throw new Error(`images (${count}) and labels (${labels.dims[0]}) disagree`);
  const pixels = rows * cols;

  // First PER_CLASS examples of each wanted class, kept in file order.
  const taken = new Map<number, number>(CLASSES.map((c) => [c, 0]));
  const picked: number[] = [];
  for (let i = 0; i < count && picked.length < CLASSES.length * PER_CLASS; i++) {
    const y = labels.data[i]!;
    const n = taken.get(y);
    if (n !== undefined && n < PER_CLASS) {
      taken.set(y, n + 1);
      picked.push(i);
    }
  }
  for (const [c, n] of taken) if (n !== PER_CLASS) throw new Error(`only ${n} examples of class ${c}`);

  const outImages = Buffer.alloc(picked.length * pixels);
  const outLabels = Buffer.alloc(picked.length);
  picked.forEach((src, dst) => {
    images.data.copy(outImages, dst * pixels, src * pixels, (src + 1) * pixels);
    outLabels[dst] = labels.data[src]!;
  });

  mkdirSync(OUT_DIR, { recursive: true });
  const gz = (b: Buffer) => zlib.gzipSync(b, { level: 9 });
  const files: [string, Buffer][] = [
    ['images-idx3-ubyte.gz', gz(Buffer.concat([idxHeader(IMAGES_MAGIC, [picked.length, rows, cols]), outImages]))],
    ['labels-idx1-ubyte.gz', gz(Buffer.concat([idxHeader(LABELS_MAGIC, [picked.length]), outLabels]))],
  ];
  for (const [name, buf] of files) {
    writeFileSync(path.join(OUT_DIR, name), buf);
    const sha = createHash('sha256').update(buf).digest('hex').slice(0, 16);
    console.log(`wrote ${path.join(OUT_DIR, name)} (${buf.length} bytes, sha256 ${sha}…)`);
  }
  console.log(
    `${picked.length} examples (${PER_CLASS} each of classes ${CLASSES.join(',')}), ${rows}x${cols}; ` +
      `source indices ${picked[0]}..${picked[picked.length - 1]} of ${count}`,
  );
}

main();
