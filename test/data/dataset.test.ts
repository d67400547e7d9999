import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DataSpec } from '../../src/spec/types.ts';
import { loadDataset, selectClasses } from '../../src/data/dataset.ts';
import { DataError } from '../../src/data/errors.ts';
import { FASHION_SAMPLE, pngBytes, tempDir, write, writeIdx } from './fixtures.ts';
import { allRows } from '../../src/data/rows.ts';

const NO_AUGMENT = { flip: false, translate: 0, brightness: 0 };

test('selectClasses keeps listed classes in the given order, matching 5 and "5" alike', () => {
  const sel = selectClasses([2, 5, 7, 5, 2, 1], { classes: ['5', 2] }, 'labels.idx');
  assert.deepEqual(sel.classLabels, [5, 2]);
  assert.deepEqual(sel.classNames, ['5', '2']);
  assert.deepEqual(Array.from(sel.indices), [0, 1, 3, 4]);
  assert.deepEqual(Array.from(sel.labels), [1, 0, 0, 1]);
  const named = selectClasses(['cat', 'dog', 'cat'], { classes: ['dog', 'cat'], classNames: ['Dog', 'Cat'] }, 'dir');
  assert.deepEqual(named.classNames, ['Dog', 'Cat']);
  assert.deepEqual(Array.from(named.labels), [1, 0, 1]);
});

test('selectClasses sorts all present labels, numerically when numeric', () => {
  assert.deepEqual(selectClasses([10, 2, 1, 2], {}, 's').classLabels, [1, 2, 10]);
  assert.deepEqual(selectClasses(['10', '9', '9'], {}, 's').classLabels, ['9', '10']);
  assert.deepEqual(selectClasses(['b', 'a', 'B', '10'], {}, 's').classLabels, ['10', 'B', 'a', 'b']);
});

test('selectClasses: limit_per_class keeps the first N of each class in file order', () => {
  const sel = selectClasses([0, 1, 0, 0, 1, 2, 1, 0], { limitPerClass: 2 }, 's');
  assert.deepEqual(Array.from(sel.indices), [0, 1, 2, 4, 5]);
  assert.deepEqual(Array.from(sel.labels), [0, 1, 0, 1, 2]);
});

test('selectClasses errors: empty listed class, duplicate, class_names length, a single class', () => {
  assert.throws(() => selectClasses([1, 2, 2], { classes: [2, 3] }, 'l.idx'), {
    name: 'DataError',
    message: 'l.idx: class 3 has no examples; labels present: 1, 2',
  });
  assert.throws(() => selectClasses([1, 2], { classes: [2, '2'] }, 'l'), /lists "2" twice/);
  assert.throws(() => selectClasses([1, 2], { classNames: ['one'] }, 'l'), /class_names has 1 names but there are 2 classes/);
  assert.throws(() => selectClasses([4, 4], {}, 'l'), /found 1 class\(es\)/);
});

async function idxFixture(dir: string, labels: number[], pixelsOf: (i: number) => number[]) {
  const images = labels.flatMap((_, i) => pixelsOf(i));
  await writeIdx(join(dir, 'images.idx.gz'), [labels.length, 2, 2], images, true);
  await writeIdx(join(dir, 'labels.idx'), [labels.length], labels);
}

function idxSpec(extra: Partial<Extract<DataSpec, { format: 'idx' }>> = {}): DataSpec {
  return { format: 'idx', images: 'images.idx.gz', labels: 'labels.idx', scale: 255, augment: NO_AUGMENT, ...extra };
}

test('loadDataset (idx): relative paths, class subset and order, limit, scaling, shape', async () => {
  const dir = await tempDir();
  await idxFixture(dir, [0, 3, 1, 3, 1, 3], (i) => [i, 2 * i, 255, 0]);
  const ds = await loadDataset(idxSpec({ classes: [3, 1], class_names: ['three', 'one'], limit_per_class: 2 }), dir);
  assert.deepEqual(ds.exampleShape, [2, 2, 1]);
  assert.deepEqual(ds.classLabels, [3, 1]);
  assert.deepEqual(ds.classNames, ['three', 'one']);
  assert.deepEqual(Array.from(ds.labels), [0, 1, 0, 1]);
  assert.equal(allRows(ds.rows).length, 4 * 4);
  // Kept examples are file indices 1, 2, 3, 4; the first pixel of each is its index / 255.
  assert.deepEqual([0, 4, 8, 12].map((o) => allRows(ds.rows)[o]), [1, 2, 3, 4].map((i) => Math.fround(i / 255)));
  assert.equal(allRows(ds.rows)[2], 1);
  assert.match(ds.digest, /^[0-9a-f]{64}$/);
});

test('loadDataset digest is stable for the same data and changes with data or selection', async () => {
  const a = await tempDir();
  const b = await tempDir();
  await idxFixture(a, [0, 1, 0, 1], (i) => [i, i, i, i]);
  await idxFixture(b, [0, 1, 0, 1], (i) => [i, i, i, i === 3 ? 99 : i]);
  const first = await loadDataset(idxSpec(), a);
  assert.equal((await loadDataset(idxSpec(), a)).digest, first.digest);
  assert.notEqual((await loadDataset(idxSpec(), b)).digest, first.digest);
  assert.notEqual((await loadDataset(idxSpec({ classes: [1, 0] }), a)).digest, first.digest);
  assert.notEqual((await loadDataset(idxSpec({ scale: 1 }), a)).digest, first.digest);
});

test('loadDataset (idx) rejects image/label count mismatch naming both files', async () => {
  const dir = await tempDir();
  await writeIdx(join(dir, 'images.idx.gz'), [3, 2, 2], new Array(12).fill(0));
  await writeIdx(join(dir, 'labels.idx'), [2], [0, 1]);
  await assert.rejects(loadDataset(idxSpec(), dir), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.equal(err.file, join(dir, 'labels.idx'));
    assert.match(err.message, /has 2 labels but the images file .*images\.idx\.gz has 3 images/);
    return true;
  });
});

test('loadDataset (image_folder): string labels, class subset, scale', async () => {
  const dir = await tempDir();
  for (const label of ['0', '1', '2']) {
    const v = Number(label) * 100;
    await write(join(dir, 'imgs', label, 'x.png'), pngBytes(3, 3, () => [v, v, v, 255]));
  }
  const spec: DataSpec = { format: 'image_folder', path: 'imgs', height: 2, width: 2, channels: 1, classes: [2, '0'], scale: 100, augment: NO_AUGMENT };
  const ds = await loadDataset(spec, dir);
  assert.deepEqual(ds.classLabels, ['2', '0']);
  assert.deepEqual(ds.exampleShape, [2, 2, 1]);
  assert.deepEqual(Array.from(ds.labels), [1, 0]);
  assert.ok(Math.abs(allRows(ds.rows)[4]! - 2) < 1e-5, `got ${allRows(ds.rows)[4]}`);
  await assert.rejects(loadDataset({ ...spec, classes: ['2', '7'] }, dir), /class "7" has no examples/);
});

test('loadDataset (csv): absolute path, numeric labels, no scaling', async () => {
  const dir = await tempDir();
  const file = await write(join(dir, 'iris.csv'), 'a,b,species\n1,2,1\n3,4,0\n5,6,1\n');
  const ds = await loadDataset({ format: 'csv', path: file, label_column: 'species' }, '/elsewhere');
  assert.deepEqual(ds.exampleShape, [2]);
  assert.deepEqual(ds.classLabels, [0, 1]);
  assert.deepEqual(Array.from(ds.labels), [1, 0, 1]);
  assert.deepEqual(Array.from(allRows(ds.rows)), [1, 2, 3, 4, 5, 6]);
});

test('loadDataset reads real Fashion-MNIST data (the shipped gzipped sample) with a class subset', async () => {
  const spec = idxSpec({ images: 'images-idx3-ubyte.gz', labels: 'labels-idx1-ubyte.gz', classes: [9, 5], limit_per_class: 20 });
  const ds = await loadDataset(spec, FASHION_SAMPLE);
  assert.deepEqual(ds.exampleShape, [28, 28, 1]);
  assert.equal(ds.labels.length, 40);
  assert.deepEqual(ds.classLabels, [9, 5]);
  assert.equal(ds.labels.filter((l) => l === 0).length, 20);
  assert.equal(allRows(ds.rows).length, 40 * 784);
  assert.ok(allRows(ds.rows).every((v) => v >= 0 && v <= 1));
  assert.ok(allRows(ds.rows).some((v) => v > 0.5));
});
