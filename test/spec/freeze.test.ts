// resolveFreezeRanges: which layers of the built model a spec's `freeze` list freezes, and the
// issues it raises for ranges that name no layer. Pure: layers are plain { name } objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findLayer, resolveFreezeRanges } from '../../src/spec/layer-refs.ts';
import type { FreezeRange } from '../../src/spec/types.ts';

// The built model of the quickstart: kept base layers (0..9), then a three-layer head (10..12).
const NAMES = ['conv1', 'bn1', 'pool1', 'conv2', 'bn2', 'pool2', 'conv3', 'bn3', 'pool3', 'flatten', 'head_0_dense', 'head_1_dropout', 'head_2_dense'];
const layers = NAMES.map((name) => ({ name }));

/** Indexes of the frozen layers. */
function frozen(ranges: FreezeRange[]): number[] {
  const { frozen, issues } = resolveFreezeRanges(layers, ranges);
  assert.deepEqual(issues, []);
  assert.equal(frozen.length, layers.length);
  return frozen.flatMap((f, i) => (f ? [i] : []));
}

function issues(ranges: FreezeRange[]) {
  return resolveFreezeRanges(layers, ranges).issues;
}

const span = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('no ranges freeze nothing', () => {
  assert.deepEqual(frozen([]), []);
});

test('index ranges are inclusive at both ends', () => {
  assert.deepEqual(frozen([{ from: 0, to: 9 }]), span(0, 9));
  assert.deepEqual(frozen([{ from: 3, to: 3 }]), [3]);
  assert.deepEqual(frozen([{ from: 0, to: 12 }]), span(0, 12));
});

test('negative indexes count from the end of the built model', () => {
  assert.deepEqual(frozen([{ from: -3, to: -1 }]), [10, 11, 12]);
  assert.deepEqual(frozen([{ from: 0, to: -4 }]), span(0, 9));
  assert.deepEqual(frozen([{ from: -13, to: -13 }]), [0]);
});

test('names and indexes mix; names are exact', () => {
  assert.deepEqual(frozen([{ from: 'conv1', to: 'flatten' }]), span(0, 9));
  assert.deepEqual(frozen([{ from: 2, to: 'conv2' }]), [2, 3]);
  assert.deepEqual(frozen([{ from: 'pool3', to: -1 }]), span(8, 12));
});

test('a regular expression freezes every layer whose name it matches', () => {
  assert.deepEqual(frozen([{ match: '^conv' }]), [0, 3, 6]);
  assert.deepEqual(frozen([{ match: 'bn|pool' }]), [1, 2, 4, 5, 7, 8]);
  assert.deepEqual(frozen([{ match: '^head_\\d+_dense$' }]), [10, 12]);
  // unanchored: matches anywhere in the name
  assert.deepEqual(frozen([{ match: '3' }]), [6, 7, 8]);
});

test('overlapping and repeated ranges freeze the union', () => {
  assert.deepEqual(frozen([{ from: 0, to: 5 }, { from: 3, to: 8 }]), span(0, 8));
  assert.deepEqual(frozen([{ match: '^conv' }, { from: 0, to: 1 }, { match: '^conv' }]), [0, 1, 3, 6]);
  assert.deepEqual(frozen([{ from: 'conv2', to: 'conv2' }, { from: 3, to: 3 }]), [3]);
});

test('an index past either end is an issue that gives the valid range', () => {
  assert.deepEqual(issues([{ from: 0, to: 13 }]), [
    { range: 0, field: 'to', message: 'layer index 13 is out of range: the model has 13 layers (0..12, or -13..-1)' },
  ]);
  assert.deepEqual(issues([{ from: -14, to: 2 }]), [
    { range: 0, field: 'from', message: 'layer index -14 is out of range: the model has 13 layers (0..12, or -13..-1)' },
  ]);
});

test('a name that is no layer is an issue on that field', () => {
  const found = issues([{ from: 'conv1', to: 'flaten' }]);
  assert.equal(found.length, 1);
  assert.equal(found[0].range, 0);
  assert.equal(found[0].field, 'to');
  assert.match(found[0].message, /^no layer named "flaten"/);
  // a layer name is case-sensitive
  assert.deepEqual(
    issues([{ from: 'Conv1', to: 2 }]).map((i) => [i.range, i.field]),
    [[0, 'from']],
  );
});

test('both ends missing: one issue for each', () => {
  assert.deepEqual(
    issues([{ from: 'nope', to: 99 }]).map((i) => i.field),
    ['from', 'to'],
  );
});

test('a regular expression that matches nothing is an issue, not a silent no-op', () => {
  assert.deepEqual(issues([{ match: '^block' }]), [{ range: 0, field: 'match', message: '/^block/ matches no layer' }]);
});

test('from after to is an issue on to, and freezes nothing for that range', () => {
  const { frozen: f, issues: found } = resolveFreezeRanges(layers, [{ from: 'pool3', to: 'conv2' }]);
  assert.deepEqual(found, [{ range: 0, field: 'to', message: 'range ends (layer 3) before it starts (layer 8)' }]);
  assert.ok(f.every((x) => !x));
  assert.equal(issues([{ from: -1, to: 0 }])[0].message, 'range ends (layer 0) before it starts (layer 12)');
});

test('issues carry the index of their range; good ranges still apply', () => {
  const { frozen: f, issues: found } = resolveFreezeRanges(layers, [
    { from: 0, to: 2 },
    { match: 'nothing' },
    { from: 5, to: 4 },
    { from: 'bn3', to: 'bn3' },
  ]);
  assert.deepEqual(
    found.map((i) => [i.range, i.field]),
    [
      [1, 'match'],
      [2, 'to'],
    ],
  );
  assert.deepEqual(
    f.flatMap((x, i) => (x ? [i] : [])),
    [0, 1, 2, 7],
  );
});

test('findLayer: index, negative index, name; undefined when absent', () => {
  assert.equal(findLayer(layers, 0), 0);
  assert.equal(findLayer(layers, 12), 12);
  assert.equal(findLayer(layers, -1), 12);
  assert.equal(findLayer(layers, -13), 0);
  assert.equal(findLayer(layers, 13), undefined);
  assert.equal(findLayer(layers, -14), undefined);
  assert.equal(findLayer(layers, 'flatten'), 9);
  assert.equal(findLayer(layers, 'missing'), undefined);
  assert.equal(findLayer([], 0), undefined);
  assert.equal(findLayer([], -1), undefined);
});
