// A sweep frees what each variant allocated: the live tensor count after the fourth variant is
// the count after the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anyTf } from '../../src/engine/backends.ts';
import { baseSpec, runSpec, tempDir } from './helpers.ts';

test('a 4-variant sweep does not accumulate tensors between variants', async () => {
  const tf = await anyTf();
  const dir = await tempDir();
  const spec = baseSpec();
  spec.head = [
    { type: 'dense', units: 16, activation: 'relu' },
    { type: 'dropout', rate: 0.3 },
    { type: 'dense', units: 5, activation: 'softmax' },
  ];
  // Early stopping keeps best-weight snapshots: they must be freed too.
  spec.training = { ...(spec.training as object), epochs: 2, early_stopping: { monitor: 'val_loss', patience: 1 } };
  spec.sweep = { 'training.learning_rate': [0.001, 0.003, 0.01, 0.03] };
  const counts: number[] = [];
  const bytes: number[] = [];
  const before = tf.memory().numTensors;
  const run = await runSpec(dir, spec, 'wasm', [
    {
      onVariantEnd: () => {
        counts.push(tf.memory().numTensors);
        bytes.push(tf.memory().numBytes);
      },
    },
  ]);
  for (const r of run.ordered) assert.equal(r.status, 'completed', r.reason);
  assert.equal(counts.length, 4);
  assert.deepEqual(counts, [counts[0], counts[0], counts[0], counts[0]], `live tensors after each variant: ${counts.join(', ')} (before the sweep: ${before})`);
  assert.deepEqual(bytes, [bytes[0], bytes[0], bytes[0], bytes[0]], `live tensor bytes after each variant: ${bytes.join(', ')}`);
  // Nothing a variant allocated survives it: the count is back where it started.
  assert.equal(counts[0], before, `live tensors before the sweep: ${before}, after the first variant: ${counts[0]}`);
});

test('variants that fail (while building, or on a NaN loss) free what they allocated', async () => {
  const tf = await anyTf();
  const dir = await tempDir();
  const sane = baseSpec();
  // A dense head straight on pool3's 4-D output: buildModel refuses it after loading the base.
  const badHead = { ...baseSpec(), base_model: { ...(baseSpec().base_model as object), cut: 'pool3' }, head: [{ type: 'dense', units: 5, activation: 'softmax' }], freeze: [{ from: 0, to: 'pool3' }] };
  const counts: Record<string, number> = {};
  const record = (label: string) => ({ onVariantEnd: () => void (counts[label] = tf.memory().numTensors) });

  await runSpec(dir, sane, 'wasm', [record('warm-up')]); // tfjs and the backend allocate nothing per variant after this
  const before = tf.memory().numTensors;
  const built = await runSpec(dir, badHead, 'wasm', [record('build failure')]);
  assert.equal(built.ordered[0].status, 'failed');
  assert.match(built.ordered[0].reason ?? '', /flatten or global_average_pooling/);
  const nan = await runSpec(
    dir,
    { ...sane, data: { ...(sane.data as object), scale: 1e-36, limit_per_class: 10 }, training: { ...(sane.training as object), optimizer: 'sgd', learning_rate: 10 } },
    'cpu',
    [record('NaN failure')],
  );
  assert.equal(nan.ordered[0].status, 'failed', 'precondition: the NaN variant fails on cpu');
  const leaked = { 'build failure': counts['build failure'] - before, 'NaN failure': counts['NaN failure'] - counts['build failure'] };
  assert.deepEqual(leaked, { 'build failure': 0, 'NaN failure': 0 }, `tensors left behind by each failed variant (live before them: ${before})`);
});
