// A variant stopped after epoch k (or mid-epoch, with step checkpoints) and trained again resumes
// from its checkpoint and ends bit for bit as the unbroken run: on the engine the test names, and
// on native TensorFlow under `npm run test:native` (TUNESPEC_TEST_ENGINE=native).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadSpec } from '../../src/app/load-spec.ts';
import { runSweep } from '../../src/train/sweep.ts';
import { LocalRunStore } from '../../src/track/local-store.ts';
import type { EpochMetrics, SweepListener, VariantResult } from '../../src/train/events.ts';
import { baseSpec, sameBytes, savedWeights, tempDir, testEngine, writeSpec } from './helpers.ts';

const TIMING = new Set(['epoch_seconds', 'examples_per_second']);

interface Trace {
  epochs: EpochMetrics[];
  /** Loss of every step trained, by global step: a redone step must give the same loss. */
  losses: Map<number, number>;
  notes: string[];
  result?: VariantResult;
}

/** Train the spec's one variant into `runs`, aborting (as Ctrl-C does) once `stopAtStep` steps are done. */
async function train(file: string, runs: string, stopAtStep?: number): Promise<Trace> {
  const loaded = await loadSpec(file);
  const store = new LocalRunStore(runs);
  const controller = new AbortController();
  const t: Trace = { epochs: [], losses: new Map(), notes: [] };
  const listener: SweepListener = {
    onBatchEnd: (_i, epoch, batch, batches, loss) => {
      const step = epoch * batches + batch + 1;
      t.losses.set(step, loss);
      if (step === stopAtStep) controller.abort();
    },
    onEpochEnd: (_i, _e, m) => void t.epochs.push(Object.fromEntries(Object.entries(m).filter(([k]) => !TIMING.has(k)))),
    onVariantNote: (_v, note) => void t.notes.push(note),
  };
  const results = await runSweep(
    { experiment: loaded.experiment.name, specFile: file, specText: loaded.text, dir: loaded.dir, plan: loaded.plan, model: loaded.model },
    { engine: testEngine('wasm'), only: [], skipReason: async () => undefined, signal: controller.signal, claims: store },
    [store, listener],
  );
  t.result = results.get(loaded.plan.variants[0].id);
  return t;
}

async function specFile(dir: string, everySteps?: number): Promise<string> {
  const spec = baseSpec();
  spec.head = [
    { type: 'dense', units: 16, activation: 'relu' },
    { type: 'dropout', rate: 0.3 },
    { type: 'dense', units: 5, activation: 'softmax' },
  ];
  // 240 training examples in batches of 16: 15 steps an epoch.
  spec.training = { ...(spec.training as object), epochs: 3, batch_size: 16, optimizer: 'adam', early_stopping: { patience: 5 } };
  spec.checkpoint = everySteps ? { every_steps: everySteps } : {};
  spec.export = { onnx: false };
  return writeSpec(dir, spec);
}

function assertSame(resumed: Trace, stopped: Trace, unbroken: Trace): void {
  assert.equal(resumed.result?.status, 'completed', resumed.result?.reason);
  assert.deepEqual([...stopped.epochs, ...resumed.epochs], unbroken.epochs, 'per-epoch metrics differ from the unbroken run');
  for (const [step, loss] of [...stopped.losses, ...resumed.losses]) assert.equal(loss, unbroken.losses.get(step), `step ${step}`);
  assert.deepEqual(resumed.result!.metrics, unbroken.result!.metrics);
  const a = savedWeights(resumed.result!.model!);
  const b = savedWeights(unbroken.result!.model!);
  for (const [name, values] of b) assert.ok(sameBytes(values, a.get(name)!), `${name} differs from the unbroken run`);
}

test('stopped after epoch 1 or 2, or mid-epoch with step checkpoints, a variant resumes and ends bit for bit as the unbroken run', async () => {
  const dir = await tempDir();
  const unbroken = await train(await specFile(dir), join(dir, 'unbroken'));
  assert.equal(unbroken.result?.status, 'completed', unbroken.result?.reason);
  assert.equal(unbroken.losses.size, 45);

  for (const k of [1, 2]) {
    const runs = join(dir, `epoch-${k}`);
    const file = await specFile(dir);
    // Aborted in the first step after epoch k: that step is redone from the epoch-end checkpoint.
    const stopped = await train(file, runs, k * 15 + 1);
    assert.equal(stopped.result?.status, 'interrupted');
    const resumed = await train(file, runs);
    assert.deepEqual(resumed.notes, [`resuming from epoch ${k}/3`]);
    assertSame(resumed, stopped, unbroken);
  }

  // Checkpoints every 4 steps; aborted after step 22 (epoch 2, step 7): resumed from step 20.
  const runs = join(dir, 'mid-epoch');
  const file = await specFile(dir, 4);
  const stopped = await train(file, runs, 22);
  const resumed = await train(file, runs);
  assert.deepEqual(resumed.notes, ['resuming from step 5/15 of epoch 2/3']);
  assert.equal(Math.min(...resumed.losses.keys()), 21, 'steps 21 and 22 are trained again');
  assertSame(resumed, stopped, unbroken);
});
