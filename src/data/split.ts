import { sha256Hex } from './digest.ts';
import { DataError } from './errors.ts';
import { createRng, shuffleInPlace } from './rng.ts';

export interface SplitOptions {
  /** Share of examples held out for validation, in (0, 1). */
  fraction: number;
  stratified: boolean;
  seed: number;
}

export interface Split {
  train: Int32Array;
  validation: Int32Array;
  /** Identifies this exact split of this exact data, for run records and caching. */
  digest: string;
}

// Per-class holdout size. Every class with at least two examples lands on both sides, so
// validation accuracy covers all classes and no class disappears from training.
function holdout(fraction: number, n: number): number {
  if (n < 2) return 0;
  return Math.min(Math.max(Math.round(fraction * n), 1), n - 1);
}

function stratifiedValidation(labels: Int32Array, fraction: number, rng: () => number): number[] {
  const byClass = new Map<number, number[]>();
  labels.forEach((label, i) => {
    const members = byClass.get(label);
    if (members) members.push(i);
    else byClass.set(label, [i]);
  });
  // Classes are visited in ascending order so the rng stream is consumed identically everywhere.
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const validation: number[] = [];
  for (const c of classes) {
    const members = shuffleInPlace(byClass.get(c)!, rng);
    validation.push(...members.slice(0, holdout(fraction, members.length)));
  }
  return validation;
}

function randomValidation(n: number, fraction: number, rng: () => number): number[] {
  const order = shuffleInPlace(Array.from({ length: n }, (_, i) => i), rng);
  return order.slice(0, Math.round(fraction * n));
}

export function splitDataset(labels: Int32Array, opts: SplitOptions, dataDigest: string): Split {
  const { fraction, stratified, seed } = opts;
  if (!(fraction > 0 && fraction < 1)) throw new DataError(`validation fraction must be in (0, 1), got ${fraction}`);
  const n = labels.length;
  const rng = createRng(seed);
  const picked = stratified ? stratifiedValidation(labels, fraction, rng) : randomValidation(n, fraction, rng);
  const validation = Int32Array.from(picked).sort();
  if (validation.length === 0) {
    throw new DataError(`validation split is empty: ${n} examples with fraction ${fraction}${stratified ? ' (stratified; every class has < 2 examples)' : ''}`);
  }
  const isValidation = new Uint8Array(n);
  for (const i of validation) isValidation[i] = 1;
  const train = new Int32Array(n - validation.length);
  let t = 0;
  for (let i = 0; i < n; i++) if (!isValidation[i]) train[t++] = i;
  if (train.length === 0) throw new DataError(`training split is empty: all ${n} examples went to validation (fraction ${fraction})`);
  const digest = sha256Hex([`${dataDigest}\nfraction=${fraction}\nstratified=${stratified}\nseed=${seed}\n`, validation]);
  return { train, validation, digest };
}
