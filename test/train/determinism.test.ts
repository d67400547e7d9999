// Same spec, same seed, same engine: the same split and bit-for-bit the same metrics, run after
// run in one process. A different training seed changes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EpochMetrics, SweepListener, VariantResult } from '../../src/train/events.ts';
import { baseSpec, runSpec, sameBytes, savedWeights, tempDir } from './helpers.ts';

const TIMING = new Set(['epoch_seconds', 'examples_per_second']);

interface Trace {
  digest: string[];
  epochs: EpochMetrics[];
  /** Every step's loss where the loop read one back (fit.ts: the first step, epoch ends, about once a second). */
  batchLosses: (number | undefined)[];
  result: VariantResult;
}

async function trace(dir: string, seed: number): Promise<Trace> {
  const spec = baseSpec();
  // Dropout draws its masks from Math.random: that is what the seeded Math.random must cover.
  spec.head = [
    { type: 'dense', units: 16, activation: 'relu' },
    { type: 'dropout', rate: 0.3 },
    { type: 'dense', units: 5, activation: 'softmax' },
  ];
  spec.training = { ...(spec.training as object), epochs: 2, seed };
  const t: Omit<Trace, 'result'> = { digest: [], epochs: [], batchLosses: [] };
  const listener: SweepListener = {
    onVariantStart: (info) => void t.digest.push(info.split.digest, info.data.digest),
    onBatchEnd: (_i, _e, _b, _n, loss) => void t.batchLosses.push(loss),
    onEpochEnd: (_i, _e, m) => void t.epochs.push(Object.fromEntries(Object.entries(m).filter(([k]) => !TIMING.has(k)))),
  };
  const run = await runSpec(dir, spec, 'wasm', [listener]);
  const result = run.ordered[0];
  assert.equal(result.status, 'completed', result.reason);
  return { ...t, result };
}

test('two runs with the same seed give the same split and exactly the same metrics', async () => {
  const dir = await tempDir();
  const a = await trace(dir, 42);
  const b = await trace(dir, 42);
  assert.equal(a.digest.length, 2);
  assert.deepEqual(b.digest, a.digest);
  assert.equal(a.epochs.length, 2);
  // The first run is the first in this process to load tfjs: it must not be any different.
  assert.deepEqual(b.epochs, a.epochs, 'per-epoch metrics differ between two runs of the same spec and seed');
  assert.equal(b.batchLosses.length, a.batchLosses.length);
  const both = a.batchLosses.flatMap((loss, i) => (loss !== undefined && b.batchLosses[i] !== undefined ? [[loss, b.batchLosses[i]]] : []));
  assert.ok(both.length >= 2, 'each epoch\'s last loss is read back in both runs');
  for (const [x, y] of both) assert.equal(y, x, 'batch losses differ between two runs of the same spec and seed');
  assert.deepEqual(b.result.metrics, a.result.metrics);
  assert.deepEqual(b.result.confusion, a.result.confusion);
  const wa = savedWeights(a.result.model!);
  const wb = savedWeights(b.result.model!);
  assert.deepEqual([...wb.keys()], [...wa.keys()]);
  for (const [name, values] of wa) assert.ok(sameBytes(values, wb.get(name)!), `${name} differs between identical runs`);
});

test('a different training seed gives different metrics (on the same split)', async () => {
  const dir = await tempDir();
  const a = await trace(dir, 42);
  const c = await trace(dir, 43);
  assert.deepEqual(c.digest, a.digest, 'training.seed must not move the validation split');
  // The last step's loss is always read back.
  assert.notEqual(c.batchLosses.at(-1), a.batchLosses.at(-1));
  assert.notDeepEqual(c.epochs, a.epochs);
  assert.notEqual(c.result.metrics!.val_loss, a.result.metrics!.val_loss);
});
