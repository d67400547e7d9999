import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.ts';
import { FrozenFeatureCache, type FeatureEntryMeta } from '../../src/engine/feature-cache.ts';

const meta = (key: string, rows: number): FeatureEntryMeta => ({ key, boundary: 'flatten', shape: [3], rows, engine: 'test', seconds: 1, createdAt: new Date(0).toISOString() });
const values = (rows: number) => Float32Array.from({ length: rows * 3 }, (_, i) => i * 0.5 - 7);

test('a process reads an entry from disk once and hands every later get the same array', async () => {
  const dir = tempDir();
  await new FrozenFeatureCache(dir, 2 ** 30).put(meta('a', 5), values(5));
  const cache = new FrozenFeatureCache(dir, 2 ** 30);
  const first = await cache.get('a');
  assert.deepEqual(Array.from(first!.features), Array.from(values(5)));
  assert.equal(first!.features.byteOffset, 0);
  assert.equal((await cache.get('a'))!.features, first!.features, 'held, not read again');
  // Another entry takes the one slot; the first is read from disk again, equal.
  await cache.put(meta('b', 2), values(2));
  const again = await cache.get('a');
  assert.notEqual(again!.features, first!.features);
  assert.deepEqual(Array.from(again!.features), Array.from(values(5)));
});

test('a held entry stops being served once removed, and a damaged file is never served', async () => {
  const dir = tempDir();
  const cache = new FrozenFeatureCache(dir, 2 ** 30);
  await cache.put(meta('a', 5), values(5));
  await new FrozenFeatureCache(dir, 2 ** 30).remove('a');
  assert.equal(await cache.get('a'), undefined, 'another process removed it: its metadata is gone');
  await cache.put(meta('c', 4), values(4));
  truncateSync(join(dir, 'c.f32'), 10);
  assert.equal(await new FrozenFeatureCache(dir, 2 ** 30).get('c'), undefined);
});
