import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DataError } from '../../src/data/errors.ts';
import { parseIdx, readIdx } from '../../src/data/readers/idx.ts';
import { FASHION_SAMPLE, idxBytes, tempDir, write, writeIdx } from './fixtures.ts';

const values = Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 11) % 256);

test('readIdx gives the same result for gzipped and plain files, detected by content', async () => {
  const dir = await tempDir();
  // Names deliberately lie: the plain file ends in .gz and the gzipped one does not.
  const plain = await readIdx(await writeIdx(join(dir, 'plain.gz'), [2, 3, 4], values));
  const gz = await readIdx(await writeIdx(join(dir, 'packed.idx'), [2, 3, 4], values, true));
  assert.deepEqual(plain.dims, [2, 3, 4]);
  assert.deepEqual(Array.from(plain.data), values);
  assert.deepEqual(gz.dims, plain.dims);
  assert.deepEqual(Array.from(gz.data), Array.from(plain.data));
});

test('readIdx reports truncated data with the file name and the sizes', async () => {
  const dir = await tempDir();
  const file = await write(join(dir, 'short.idx'), idxBytes([2, 3, 4], values).subarray(0, 4 + 12 + 10));
  await assert.rejects(readIdx(file), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.equal(err.code, 'DATA');
    assert.equal(err.file, file);
    assert.match(err.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated IDX data`));
    assert.match(err.message, /need 24 bytes, file has 10/);
    return true;
  });
});

test('readIdx reports truncated headers, truncated gzip and unsupported dtypes', async () => {
  assert.throws(() => parseIdx(idxBytes([5, 5], []).subarray(0, 7), 'h.idx'), /h\.idx: truncated IDX header/);
  const gz = (await import('node:zlib')).gzipSync(idxBytes([3], [1, 2, 3]));
  assert.throws(() => parseIdx(gz.subarray(0, gz.length - 6), 'g.gz'), /g\.gz: gzip data is corrupt or truncated/);
  assert.throws(() => parseIdx(idxBytes([1], [0, 0, 0, 0], 0x0d), 'f.idx'), /unsupported IDX dtype 0x0d \(float32\)/);
  assert.throws(() => parseIdx(Buffer.from('hello world'), 't.txt'), /not an IDX file/);
  assert.throws(() => parseIdx(idxBytes([2], [1, 2, 3]), 'x.idx'), /1 unexpected trailing bytes/);
});

test('readIdx names a missing file', async () => {
  await assert.rejects(readIdx('/nonexistent/labels.idx'), /\/nonexistent\/labels\.idx: cannot read file: not found/);
});

test('readIdx reads real Fashion-MNIST files (the shipped gzipped sample): 3000 28x28 images, 600 labels of each of classes 5-9', async () => {
  const labels = await readIdx(join(FASHION_SAMPLE, 'labels-idx1-ubyte.gz'));
  assert.deepEqual(labels.dims, [3000]);
  const counts = new Array(10).fill(0);
  for (const label of labels.data) counts[label]++;
  assert.deepEqual(counts, [0, 0, 0, 0, 0, 600, 600, 600, 600, 600]);
  const images = await readIdx(join(FASHION_SAMPLE, 'images-idx3-ubyte.gz'));
  assert.deepEqual(images.dims, [3000, 28, 28]);
  assert.equal(images.data.length, 3000 * 28 * 28);
});
