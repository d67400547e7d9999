// The image data path holds examples as read and makes model input per batch: a feature-cache
// hit must therefore read no example at all, and a large entry is read from its file by row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { anyTf } from '../../src/engine/backends.ts';
import { FrozenFeatureCache } from '../../src/engine/feature-cache.ts';
import { loadBase, buildModel, disposeVariantModel } from '../../src/model/build.ts';
import { tfjsFiles } from '../../src/model/source.ts';
import { loadSpec } from '../../src/app/load-spec.ts';
import { loadDataset } from '../../src/data/dataset.ts';
import { allRows, denseRows, type RowSource } from '../../src/data/rows.ts';
import { frozenFeatures } from '../../src/train/frozen-features.ts';
import { baseSpec, IMAGES, LABELS, tempDir, writeSpec } from './helpers.ts';

/** Examples that cannot be made: what a dataset whose preprocessing fails would hand over. */
function unreadable(like: RowSource): RowSource {
  return {
    count: like.count,
    shape: like.shape,
    gather: () => {
      throw new Error('an example was read');
    },
  };
}

test('a feature-cache hit reads no example: the frozen features of a dataset whose rows cannot be made come from the entry', async () => {
  const tf = await anyTf();
  const dir = await tempDir();
  const loaded = await loadSpec(await writeSpec(dir, baseSpec()));
  const spec = loaded.plan.variants[0].spec;
  const dataset = await loadDataset(spec.data, loaded.dir, spec.base_model.preprocess);
  const base = await loadBase(tf, tfjsFiles(loaded.model.base));
  const built = buildModel(tf, base, loaded.model.layers[loaded.model.cutIndex].name, spec);
  try {
    const request = (cache: FrozenFeatureCache, rows: RowSource) =>
      frozenFeatures({ tf, model: built.model, layers: built.layers, frozen: built.frozen, augmented: false, data: { rows, digest: dataset.digest }, tfjsEngine: 'tfjs test', cache });
    // Without an entry the features are computed from the examples, so the unreadable rows fail.
    await assert.rejects(request(new FrozenFeatureCache(join(dir, 'empty'), 2 ** 30), unreadable(dataset.rows)), /an example was read/);

    const cacheDir = join(dir, 'cache');
    const miss = await request(new FrozenFeatureCache(cacheDir, 2 ** 30), dataset.rows);
    assert.equal(miss.report.status, 'miss');
    // A new process (a new cache object), held in memory and read by row from the file alike.
    for (const holdBytes of [2 ** 30, 0]) {
      const hit = await request(new FrozenFeatureCache(cacheDir, 2 ** 30, holdBytes), unreadable(dataset.rows));
      assert.equal(hit.report.status, 'hit', hit.report.detail);
      assert.deepEqual(allRows(hit.features!.rows), allRows(miss.features!.rows));
    }
  } finally {
    disposeVariantModel(built, base);
  }
});

test('the data digest covers the stored bytes, scale, preprocessing and labels, and is computed without preprocessing', async () => {
  const data = { format: 'idx', images: IMAGES, labels: LABELS, classes: [5, 6], limit_per_class: 3, scale: 255, augment: {} } as const;
  const plain = await loadDataset(data as never, '/');
  // The digest, recomputed from the files' bytes: the selected images as stored (uint8), then the class indices.
  const images = gunzipSync(readFileSync(IMAGES)).subarray(16);
  const labels = gunzipSync(readFileSync(LABELS)).subarray(8);
  const kept: number[] = [];
  const classes: number[] = [];
  const counts = new Map<number, number>();
  labels.forEach((label, i) => {
    const k = [5, 6].indexOf(label);
    if (k < 0 || (counts.get(k) ?? 0) >= 3) return;
    counts.set(k, (counts.get(k) ?? 0) + 1);
    kept.push(i);
    classes.push(k);
  });
  const hash = createHash('sha256').update(`stored;uint8;shape=28x28x1;n=${kept.length};scale=255;preprocess=none\n`);
  for (const i of kept) hash.update(images.subarray(i * 784, (i + 1) * 784));
  hash.update(new Uint8Array(Int32Array.from(classes).buffer));
  assert.equal(plain.digest, hash.digest('hex'));

  const identity = await loadDataset(data as never, '/', { mean: 0, std: 1 } as never);
  assert.equal(identity.digest, plain.digest, 'a preprocessing that changes nothing leaves the digest as it was');
  const resized = await loadDataset(data as never, '/', { resize: { height: 32, width: 32 }, channels: 3, mean: 0.5, std: 0.5 } as never);
  assert.notEqual(resized.digest, plain.digest);
  assert.notEqual((await loadDataset(data as never, '/', { resize: { height: 32, width: 32 }, channels: 3, mean: 0.5, std: 0.25 } as never)).digest, resized.digest);
  assert.notEqual((await loadDataset({ ...data, scale: 1 } as never, '/')).digest, plain.digest);

  // Rows made per gather: grey replicated to three channels, then (x - 0.5) / 0.5, whatever the order asked.
  assert.deepEqual(resized.exampleShape, [32, 32, 3]);
  const one = resized.rows.gather([4]);
  assert.equal(one.length, 32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p++) assert.ok(one[3 * p] === one[3 * p + 1] && one[3 * p] === one[3 * p + 2]);
  assert.ok(one.every((v) => v >= -1 && v <= 1));
  assert.deepEqual(resized.rows.gather([2, 4]).subarray(32 * 32 * 3), one);
  const raw = plain.rows.gather([4]);
  assert.deepEqual(raw, Float32Array.from(images.subarray(kept[4] * 784, (kept[4] + 1) * 784), (v) => v / 255));
});

test('a large entry is read by row from its file, in any order, and its rows stop when another entry takes the file', async () => {
  const dir = await tempDir();
  const values = Float32Array.from({ length: 7 * 3 }, (_, i) => i * 0.25 - 2);
  const meta = (key: string, rows: number) => ({ key, boundary: 'b', shape: [3], rows, engine: 'test', seconds: 1, createdAt: new Date(0).toISOString() });
  const writer = await new FrozenFeatureCache(dir, 2 ** 30).begin('a');
  writer.append(values.subarray(0, 9));
  writer.append(values.subarray(9));
  const written = await writer.commit(meta('a', 7));
  const dense = denseRows(values, [3]);
  assert.deepEqual(allRows(written.rows), values);

  const cache = new FrozenFeatureCache(dir, 2 ** 30, 0);
  const a = (await cache.open('a'))!;
  for (const order of [[6, 0, 3], [1, 2, 3, 4], [5, 5, 6, 0]]) assert.deepEqual(a.rows.gather(order), dense.gather(order), `rows ${order}`);
  // A writer that does not finish leaves no entry; a declared size that does not match is refused.
  const dropped = await cache.begin('c');
  dropped.append(values);
  await dropped.abort();
  assert.equal(await cache.open('c'), undefined);
  const wrong = await cache.begin('c');
  wrong.append(values);
  await assert.rejects(wrong.commit(meta('c', 6)), /declares 6 rows/);
  assert.equal(await cache.open('c'), undefined);

  const w = await cache.begin('b');
  w.append(values.subarray(0, 6));
  await w.commit(meta('b', 2));
  assert.throws(() => a.rows.gather([0]), /another entry took their file's place/);
  assert.deepEqual(allRows((await cache.open('a'))!.rows), values, 'opened again, it reads again');
});
