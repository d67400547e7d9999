import { test } from 'node:test';
import assert from 'node:assert/strict';
import { augmentBatch, hasAugmentation } from '../../src/data/augment.ts';
import { createRng } from '../../src/data/rng.ts';

const OFF = { flip: false, translate: 0, brightness: 0 };
const shape = [3, 4, 2]; // h, w, c
const size = 3 * 4 * 2;

/** Example e, pixel (y, x), channel k gets a distinct value in [0, 1]. */
function batchOf(n: number): Float32Array {
  return Float32Array.from({ length: n * size }, (_, i) => (i % size) / size + (Math.floor(i / size) % 2) * 0.01);
}

function pixel(a: Float32Array, e: number, y: number, x: number, k: number): number {
  return a[e * size + (y * 4 + x) * 2 + k]!;
}

test('hasAugmentation is true when any option is active', () => {
  assert.equal(hasAugmentation(OFF), false);
  assert.equal(hasAugmentation(undefined), false);
  assert.equal(hasAugmentation({ ...OFF, flip: true }), true);
  assert.equal(hasAugmentation({ ...OFF, translate: 1 }), true);
  assert.equal(hasAugmentation({ ...OFF, brightness: 0.1 }), true);
});

test('augmentBatch never mutates its input and keeps values within [0, maxValue]', () => {
  const batch = batchOf(32);
  const before = batch.slice();
  const out = augmentBatch(batch, shape, { flip: true, translate: 2, brightness: 1 }, createRng(1), 1);
  assert.deepEqual(batch, before);
  assert.notEqual(out, batch);
  assert.equal(out.length, batch.length);
  assert.ok(out.every((v) => v >= 0 && v <= 1));
  assert.ok(out.some((v) => v === 0) && out.some((v) => v === 1), 'brightness 1 pushes some values to both bounds');
  const scaled = augmentBatch(batch.map((v) => v * 255), shape, { flip: false, translate: 0, brightness: 0.5 }, createRng(2), 255);
  assert.ok(scaled.every((v) => v >= 0 && v <= 255));
});

test('augmentBatch is deterministic for a seed, and returns a copy when nothing is active', () => {
  const batch = batchOf(8);
  const opts = { flip: true, translate: 1, brightness: 0.2 };
  assert.deepEqual(augmentBatch(batch, shape, opts, createRng(5), 1), augmentBatch(batch, shape, opts, createRng(5), 1));
  const copy = augmentBatch(batch, shape, OFF, createRng(5), 1);
  assert.notEqual(copy, batch);
  assert.deepEqual(copy, batch);
});

test('flip mirrors each row (channels kept in order), and happens for about half the examples', () => {
  const batch = batchOf(1);
  const always = augmentBatch(batch, shape, { ...OFF, flip: true }, () => 0, 1);
  for (let y = 0; y < 3; y++) {
    for (let x = 0; x < 4; x++) {
      for (let k = 0; k < 2; k++) assert.equal(pixel(always, 0, y, x, k), pixel(batch, 0, y, 3 - x, k));
    }
  }
  assert.deepEqual(augmentBatch(batch, shape, { ...OFF, flip: true }, () => 0.75, 1), batch);

  const many = batchOf(200);
  const out = augmentBatch(many, shape, { ...OFF, flip: true }, createRng(9), 1);
  let flipped = 0;
  for (let e = 0; e < 200; e++) {
    const same = pixel(out, e, 0, 0, 0) === pixel(many, e, 0, 0, 0);
    if (!same) {
      flipped++;
      assert.equal(pixel(out, e, 0, 0, 0), pixel(many, e, 0, 3, 0));
    }
  }
  assert.ok(flipped > 70 && flipped < 130, `${flipped} of 200 flipped`);
});

test('translate shifts by whole pixels with zero fill', () => {
  const batch = batchOf(1);
  // rng 0.99 draws the largest shift, +1 on both axes: content moves down and right.
  const out = augmentBatch(batch, shape, { ...OFF, translate: 1 }, () => 0.99, 1);
  for (let y = 0; y < 3; y++) {
    for (let x = 0; x < 4; x++) {
      for (let k = 0; k < 2; k++) {
        const expected = y === 0 || x === 0 ? 0 : pixel(batch, 0, y - 1, x - 1, k);
        assert.equal(pixel(out, 0, y, x, k), expected, `(${y}, ${x}, ${k})`);
      }
    }
  }
});

test('brightness adds one offset per example, scaled by maxValue', () => {
  const batch = new Float32Array(size).fill(100);
  // rng 0.75 → offset (2*0.75 - 1) * 0.2 * 255 = 25.5
  const out = augmentBatch(batch, shape, { ...OFF, brightness: 0.2 }, () => 0.75, 255);
  assert.ok(out.every((v) => Math.abs(v - 125.5) < 1e-4));
});

test('augmentBatch rejects non-image shapes and partial batches', () => {
  assert.throws(() => augmentBatch(new Float32Array(8), [4], { ...OFF, flip: true }, () => 0, 1), /shape \[height, width, channels\]/);
  assert.throws(() => augmentBatch(new Float32Array(size + 1), shape, { ...OFF, flip: true }, () => 0, 1), /not a whole number/);
});
