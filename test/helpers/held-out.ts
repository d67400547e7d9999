import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseIdx } from '../../src/data/readers/idx.ts';
import { idxBytes } from '../data/fixtures.ts';
import { QUICKSTART_IMAGES, QUICKSTART_LABELS } from './cli.ts';

/**
 * Examples 1000.. of the shipped Fashion-MNIST sample (data/README.md), which no test model
 * trains on: writeSmallSpec's specs take the first 60 of each class, all within the sample's first
 * 1000. Tests evaluate on these as a user would on a test split: a gzipped IDX images file and
 * labels file, the format Fashion-MNIST is published in.
 */
export const HELD_OUT_FROM = 1000;

export interface HeldOut {
  images: string;
  labels: string;
  /** Examples of each class label, by label. */
  counts: Map<number, number>;
}

export function writeHeldOut(dir: string): HeldOut {
  const images = parseIdx(readFileSync(QUICKSTART_IMAGES), QUICKSTART_IMAGES);
  const labels = parseIdx(readFileSync(QUICKSTART_LABELS), QUICKSTART_LABELS);
  const [count, height, width] = images.dims as [number, number, number];
  const n = count - HELD_OUT_FROM;
  const kept = labels.data.subarray(HELD_OUT_FROM);
  const out = { images: join(dir, 'held-out-images-idx3-ubyte.gz'), labels: join(dir, 'held-out-labels-idx1-ubyte.gz'), counts: new Map<number, number>() };
  writeFileSync(out.images, gzipSync(idxBytes([n, height, width], images.data.subarray(HELD_OUT_FROM * height * width))));
  writeFileSync(out.labels, gzipSync(idxBytes([n], kept)));
  for (const label of kept) out.counts.set(label, (out.counts.get(label) ?? 0) + 1);
  return out;
}
