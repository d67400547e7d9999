// A variant stopped after epoch k (or mid-epoch, with step checkpoints) and trained again resumes
// from its checkpoint and ends bit for bit as the unbroken run: on the engine the test names, and
// on native TensorFlow under `npm run test:native` (TUNESPEC_TEST_ENGINE=native).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSpec } from '../../src/app/load-spec.ts';
import { runSweep } from '../../src/train/sweep.ts';
import { LocalRunStore } from '../../src/track/local-store.ts';
import type { EpochMetrics, ResumedFrom, SweepListener, VariantResult } from '../../src/train/events.ts';
import { baseSpec, sameBytes, savedWeights, tempDir, testEngine, writeSpec } from './helpers.ts';

const TIMING = new Set(['epoch_seconds', 'examples_per_second']);

interface Trace {
  epochs: EpochMetrics[];
  /** Loss of every step trained, by global step: a redone step must give the same loss. */
  /** Every step; its loss where the loop read one back (fit.ts: the first step, checkpoints, epoch ends, about once a second). */
  losses: Map<number, number | undefined>;
  notes: string[];
  resumed?: ResumedFrom;
  result?: VariantResult;
}

/** Train the spec's one variant into `runs`, aborting (as Ctrl-C does) once `stopAtStep` steps are done. */
async function train(file: string, runs: string, stopAtStep?: number): Promise<Trace> {
  const loaded = await loadSpec(file);
  const store = new LocalRunStore(runs);
  const controller = new AbortController();
  const t: Trace = { epochs: [], losses: new Map(), notes: [] };
  const listener: SweepListener = {
    onVariantStart: (i) => void (t.resumed = i.resumed),
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
  assert.equal(resumed.resumed?.inexact, undefined, 'resumed on the machine that wrote the checkpoint');
  assert.deepEqual([...stopped.epochs, ...resumed.epochs], unbroken.epochs, 'per-epoch metrics differ from the unbroken run');
  let compared = 0;
  for (const [step, loss] of [...stopped.losses, ...resumed.losses]) {
    const expected = unbroken.losses.get(step);
    if (loss === undefined || expected === undefined) continue;
    assert.equal(loss, expected, `step ${step}`);
    compared++;
  }
  // At least each epoch's last step, read back in every run.
  assert.ok(compared >= 3, `only ${compared} steps' losses to compare`);
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

const NATIVE = testEngine('wasm').startsWith('native');

test('native: a checkpoint written on another machine is resumed, and the run says the continuation is not bit for bit', { skip: !NATIVE && 'the portable engines compute the same bits on any machine' }, async () => {
  const dir = await tempDir();
  const runs = join(dir, 'runs');
  const file = await specFile(dir);
  await train(file, runs, 16);
  // As a worker on another machine of the shared store would find it: its manifest names that machine.
  const exp = join(runs, 'test');
  const checkpoints = join(exp, readdirSync(exp).find((n) => n.startsWith('.checkpoints-'))!);
  const manifest = join(checkpoints, readdirSync(checkpoints).find((n) => n.startsWith('step-'))!, 'manifest.json');
  const written = JSON.parse(readFileSync(manifest, 'utf8'));
  assert.match(written.host, /, \d+ threads$/, 'a native checkpoint records the machine it was written on');
  writeFileSync(manifest, JSON.stringify({ ...written, host: 'Other CPU (avx2 fma), 96 threads' }));
  const resumed = await train(file, runs);
  assert.equal(resumed.result?.status, 'completed', resumed.result?.reason);
  assert.equal(resumed.notes[0], 'resuming from epoch 1/3');
  assert.ok(resumed.notes[1]?.startsWith(`not bit for bit: checkpoint written on Other CPU (avx2 fma), 96 threads, resumed on ${written.host}; native TensorFlow's kernels round differently`), resumed.notes.join('\n'));
  assert.equal(resumed.resumed?.inexact, `checkpoint written on Other CPU (avx2 fma), 96 threads, resumed on ${written.host}`);
});
