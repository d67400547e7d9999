import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIMITS, packBatches, sanitizeKey, wireValue, type KeyValue, type Metric } from '../../src/track/mlflow/limits.ts';

const metrics: Metric[] = Array.from({ length: 2500 }, (_, i) => ({ key: 'loss', value: i / 7, timestamp: 1_700_000_000_000 + i, step: i }));
const params: KeyValue[] = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: `v${i}` }));
const tags: KeyValue[] = Array.from({ length: 120 }, (_, i) => ({ key: `t${i}`, value: `w${i}` }));

test('packBatches keeps every batch within MLflow limits', () => {
  const batches = packBatches(metrics, params, tags);
  assert.ok(batches.length >= 3, `2500 metrics need at least 3 batches, got ${batches.length}`);
  for (const [i, b] of batches.entries()) {
    assert.ok(b.metrics.length <= LIMITS.metricsPerBatch, `batch ${i}: ${b.metrics.length} metrics`);
    assert.ok(b.params.length <= LIMITS.paramsPerBatch, `batch ${i}: ${b.params.length} params`);
    assert.ok(b.tags.length <= LIMITS.tagsPerBatch, `batch ${i}: ${b.tags.length} tags`);
    const total = b.metrics.length + b.params.length + b.tags.length;
    assert.ok(total <= LIMITS.itemsPerBatch, `batch ${i}: ${total} items`);
    assert.ok(total > 0, `batch ${i} is empty`);
  }
  assert.equal(LIMITS.metricsPerBatch, 1000);
  assert.equal(LIMITS.paramsPerBatch, 100);
  assert.equal(LIMITS.tagsPerBatch, 100);
  assert.equal(LIMITS.itemsPerBatch, 1000);
});

test('packBatches loses, duplicates and reorders nothing', () => {
  const batches = packBatches(metrics, params, tags);
  const flatMetrics = batches.flatMap((b) => b.metrics);
  assert.deepEqual(
    flatMetrics.map((m) => [m.key, m.step, m.value, m.timestamp]),
    metrics.map((m) => [m.key, m.step, m.value, m.timestamp]),
  );
  assert.deepEqual(batches.flatMap((b) => b.params), params);
  assert.deepEqual(batches.flatMap((b) => b.tags), tags);
});

test('packBatches of nothing is no batches; small inputs are one batch', () => {
  assert.deepEqual(packBatches([], [], []), []);
  const one = packBatches(metrics.slice(0, 3), params.slice(0, 2), tags.slice(0, 1));
  assert.equal(one.length, 1);
  assert.equal(one[0].metrics.length, 3);
  assert.equal(one[0].params.length, 2);
  assert.equal(one[0].tags.length, 1);
});

test('packBatches: params alone past the limit still split', () => {
  const many = Array.from({ length: 1050 }, (_, i) => ({ key: `k${i}`, value: 'x' }));
  const batches = packBatches([], many, []);
  assert.equal(batches.length, 11);
  for (const b of batches) assert.ok(b.params.length <= LIMITS.paramsPerBatch);
  assert.deepEqual(batches.flatMap((b) => b.params), many);
});

test('non-finite metric values go over the wire as protobuf JSON strings', () => {
  assert.equal(wireValue(NaN), 'NaN');
  assert.equal(wireValue(Infinity), 'Infinity');
  assert.equal(wireValue(-Infinity), '-Infinity');
  assert.equal(wireValue(1.5), 1.5);
  assert.equal(wireValue(0), 0);
  const [b] = packBatches(
    [NaN, Infinity, -Infinity, 2].map((value, step) => ({ key: 'm', value, step, timestamp: 1 })),
    [],
    [],
  );
  assert.deepEqual(
    b.metrics.map((m) => m.value),
    ['NaN', 'Infinity', '-Infinity', 2],
  );
  // The serialised body must be valid JSON with those strings (JSON.stringify(NaN) would be null).
  assert.match(JSON.stringify(b), /"value":"NaN"/);
});

test('param values over 6000 characters are clipped to 6000; tags to 8000', () => {
  const long = 'a'.repeat(7000);
  const [b] = packBatches([], [{ key: 'p', value: long }, { key: 'q', value: 'b'.repeat(6000) }], [{ key: 't', value: 'c'.repeat(9000) }]);
  assert.equal(b.params[0].value.length, LIMITS.paramValue);
  assert.equal(LIMITS.paramValue, 6000);
  assert.equal(b.params[0].value, long.slice(0, 6000));
  assert.equal(b.params[1].value.length, 6000);
  assert.equal(b.tags[0].value.length, 8000);
});

test('sanitizeKey replaces bad characters and caps at 250', () => {
  assert.equal(sanitizeKey('val/loss-top_1.x 2'), 'val/loss-top_1.x 2');
  assert.equal(sanitizeKey('acc@1:top(5)'), 'acc_1_top_5_');
  assert.equal(sanitizeKey('ü'), 'ü', 'letters beyond ASCII are fine for the server');
  assert.equal(sanitizeKey('™'), '_');
  assert.match(sanitizeKey('a\nb\tc'), /^a_b_c$/);
  const long = sanitizeKey('k'.repeat(300));
  assert.equal(long.length, 250);
  assert.equal(LIMITS.key, 250);
  assert.equal(sanitizeKey('x'.repeat(250)), 'x'.repeat(250));
  // Applied to every key packBatches sends.
  const [b] = packBatches([{ key: 'm:1', value: 1, step: 0, timestamp: 0 }], [{ key: 'p#', value: 'v' }], [{ key: 't!'.repeat(200), value: 'v' }]);
  assert.equal(b.metrics[0].key, 'm_1');
  assert.equal(b.params[0].key, 'p_');
  assert.equal(b.tags[0].key.length, 250);
  assert.match(b.tags[0].key, /^(t_)+$/);
});

// The server also refuses names that are not unique as paths (mlflow/utils/validation.py
// path_not_unique: normpath(name) != name, or it starts with '/' or '..'), and one bad key refuses
// the whole batch. Seen against mlflow 3.17.2: 400 INVALID_PARAMETER_VALUE for each of these.
test('sanitizeKey yields keys the server accepts as paths', () => {
  const normpath = (p: string) => {
    const abs = p.startsWith('/');
    const out: string[] = [];
    for (const part of p.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..' && out.length && out[out.length - 1] !== '..') out.pop();
      else if (part !== '..' || !abs) out.push(part);
    }
    return (abs ? '/' : '') + out.join('/') || '.';
  };
  for (const key of ['val//loss', 'train/', '/abs', 'a/../b', './x', `${'x'.repeat(249)}/y`, '', '..']) {
    const k = sanitizeKey(key);
    assert.ok(k === normpath(k) && !k.startsWith('/') && !k.startsWith('..') && k !== '.', `sanitizeKey(${JSON.stringify(key.slice(-12))}) = ${JSON.stringify(k.slice(-12))} is refused by the server`);
  }
});
