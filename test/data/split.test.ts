import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataError } from '../../src/data/errors.ts';
import { splitDataset } from '../../src/data/split.ts';

// 80 examples in 3 classes of unequal size (0: 49, 1: 24, 2: 7), interleaved as in real files.
const labels = Int32Array.from({ length: 80 }, (_, i) => (i % 4 === 0 && i < 28 ? 2 : i % 3 === 0 ? 1 : 0));

function counts(indices: Int32Array, k = 3): number[] {
  const c = new Array<number>(k).fill(0);
  for (const i of indices) c[labels[i]!]++;
  return c;
}

function isSortedPartition(train: Int32Array, validation: Int32Array, n: number): boolean {
  const ascending = (a: Int32Array) => a.every((v, i) => i === 0 || a[i - 1]! < v);
  const all = [...train, ...validation].sort((a, b) => a - b);
  return ascending(train) && ascending(validation) && all.length === n && all.every((v, i) => v === i);
}

test('stratified split holds out round(fraction*n_c) of every class, within ±1', () => {
  const perClass = counts(Int32Array.from(labels.keys()));
  assert.deepEqual(perClass, [49, 24, 7]);
  for (const fraction of [0.1, 0.2, 0.25, 0.5, 0.9]) {
    for (const seed of [0, 1, 12345]) {
      const split = splitDataset(labels, { fraction, stratified: true, seed }, 'd');
      assert.ok(isSortedPartition(split.train, split.validation, labels.length));
      counts(split.validation).forEach((v, c) => {
        assert.ok(Math.abs(v - fraction * perClass[c]!) <= 1, `class ${c}: ${v} vs ${fraction}*${perClass[c]}`);
        assert.ok(v >= 1 && v < perClass[c]!, `class ${c} on both sides`);
      });
    }
  }
});

test('non-stratified split is a seeded global shuffle of round(fraction*n)', () => {
  const split = splitDataset(labels, { fraction: 0.25, stratified: false, seed: 3 }, 'd');
  assert.equal(split.validation.length, 20);
  assert.equal(split.train.length, 60);
  assert.ok(isSortedPartition(split.train, split.validation, 80));
});

test('same inputs give the same split and digest; seed, fraction, mode and data digest change them', () => {
  const opts = { fraction: 0.2, stratified: true, seed: 7 };
  const a = splitDataset(labels, opts, 'data-1');
  const b = splitDataset(labels, { ...opts }, 'data-1');
  assert.deepEqual(b, a);
  assert.match(a.digest, /^[0-9a-f]{64}$/);
  const otherSeed = splitDataset(labels, { ...opts, seed: 8 }, 'data-1');
  assert.notDeepEqual(Array.from(otherSeed.validation), Array.from(a.validation));
  assert.notEqual(otherSeed.digest, a.digest);
  assert.notEqual(splitDataset(labels, opts, 'data-2').digest, a.digest);
  assert.notEqual(splitDataset(labels, { ...opts, fraction: 0.3 }, 'data-1').digest, a.digest);
  assert.notEqual(splitDataset(labels, { ...opts, stratified: false }, 'data-1').digest, a.digest);
});

test('split is pinned across machines (integer-only rng, fixed rng consumption order)', () => {
  const split = splitDataset(Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), { fraction: 0.3, stratified: true, seed: 0 }, 'x');
  // Class 0 holds out round(1.2) = 1, class 1 round(1.8) = 2.
  assert.deepEqual(Array.from(split.validation), [3, 7, 9]);
  assert.equal(split.digest, 'f106184b0e3745040312cf4d9e4bc92f0cde7b38968a69ffe35a876751beb37b');
});

test('split throws DataError when a side would be empty', () => {
  assert.throws(() => splitDataset(Int32Array.from([0, 1, 2]), { fraction: 0.5, stratified: true, seed: 0 }, 'd'), DataError);
  assert.throws(() => splitDataset(Int32Array.from([0, 1, 0]), { fraction: 0.1, stratified: false, seed: 0 }, 'd'), /validation split is empty/);
  assert.throws(() => splitDataset(Int32Array.from([0, 1]), { fraction: 0.9, stratified: false, seed: 0 }, 'd'), /training split is empty/);
});
