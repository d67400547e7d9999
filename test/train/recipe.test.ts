// The BERT fine-tuning recipe's pieces (AdamW, clipping by global norm, per-batch warmup schedules)
// against values NumPy computed from the published definitions (scripts/optimizer_reference.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectEngine } from '../../src/engine/backends.ts';
import { checkStructure } from '../../src/spec/structure.ts';
import type { Experiment, TrainingSpec } from '../../src/spec/types.ts';
import { fitVariant, type TrainingData } from '../../src/train/fit.ts';
import type { VariantInfo } from '../../src/train/events.ts';
import { createOptimizer, decays } from '../../src/train/optimizer.ts';
import { learningRateAtStep } from '../../src/train/schedule.ts';
import { testEngine } from './helpers.ts';
import { denseRows } from '../../src/data/rows.ts';

interface AdamwRun {
  weight_decay: number;
  max_grad_norm: number | null;
  x: number[][];
  y: number[];
  kernel0: number[][];
  bias0: number[];
  batch_size: number;
  epochs: number;
  learning_rate: number;
  warmup_steps: number;
  rates: number[];
  grad_norms: number[];
  kernel: number[][];
  bias: number[];
}

interface Reference {
  schedules: { schedule: TrainingSpec['schedule']; epochs: number; steps_per_epoch: number; learning_rate: number; rates: number[] }[];
  adamw: AdamwRun[];
}

const REFERENCE = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'train', 'recipe-reference.json'), 'utf8')) as Reference;

/** A training section as ajv resolves it, defaults applied. */
function resolvedSpec(training: Record<string, unknown>): Experiment {
  const { spec, issues } = checkStructure({
    name: 'recipe',
    base_model: { source: 'unused/model.json' },
    head: [{ type: 'dense', units: 2, activation: 'softmax' }],
    data: { format: 'csv', path: 'unused.csv' },
    training: { epochs: 1, learning_rate: 0.1, ...training },
  });
  assert.deepEqual(issues, []);
  return spec!;
}

function close(got: ArrayLike<number>, want: number[], tolerance: number, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= tolerance, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

test('warmup_linear and warmup_cosine give Hugging Face\'s rate at every step', () => {
  assert.equal(REFERENCE.schedules.length, 6);
  for (const c of REFERENCE.schedules) {
    const t = resolvedSpec({ epochs: c.epochs, learning_rate: c.learning_rate, schedule: c.schedule }).training;
    const got = c.rates.map((_, step) => learningRateAtStep(t, step, c.steps_per_epoch));
    close(got, c.rates, 1e-12, JSON.stringify(c.schedule));
  }
});

test('AdamW with clipping by global norm follows the NumPy trajectory; biases never decay', async () => {
  const { tf } = await selectEngine(testEngine('wasm'), []);
  assert.ok(REFERENCE.adamw[0]!.grad_norms.some((n) => n > 0.45) && REFERENCE.adamw[0]!.grad_norms.some((n) => n < 0.45), 'the clipped run clips some steps only');
  const finals: number[][] = [];
  for (const run of REFERENCE.adamw) {
    const before = tf.memory().numTensors;
    const t = resolvedSpec({
      epochs: run.epochs,
      learning_rate: run.learning_rate,
      optimizer: 'adamw',
      weight_decay: run.weight_decay,
      ...(run.max_grad_norm === null ? {} : { max_grad_norm: run.max_grad_norm }),
      schedule: { type: 'warmup_linear', warmup_steps: run.warmup_steps },
    }).training;
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, activation: 'softmax', inputShape: [3] })] });
    const initial = [tf.tensor2d(run.kernel0), tf.tensor1d(run.bias0)];
    model.setWeights(initial);
    tf.dispose(initial);
    const optimizer = createOptimizer(tf, t);
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const perEpoch = run.x.length / run.batch_size;
    for (let step = 0; step < run.epochs * perEpoch; step++) {
      (optimizer as unknown as { learningRate: number }).learningRate = learningRateAtStep(t, step, perEpoch);
      const first = (step % perEpoch) * run.batch_size;
      const [x, y] = tf.tidy(() => [
        tf.tensor2d(run.x.slice(first, first + run.batch_size)),
        tf.oneHot(tf.tensor1d(run.y.slice(first, first + run.batch_size), 'int32'), 2),
      ]);
      await model.trainOnBatch(x, y);
      tf.dispose([x, y]);
    }
    const [kernel, bias] = model.getWeights().map((w) => Array.from(w.dataSync()));
    const what = `weight_decay ${run.weight_decay}, max_grad_norm ${run.max_grad_norm}`;
    close(kernel!, run.kernel.flat(), 5e-6, `${what}: kernel`);
    close(bias!, run.bias, 5e-6, `${what}: bias`);
    finals.push([...kernel!, ...bias!]);
    optimizer.dispose();
    model.dispose();
    assert.equal(tf.memory().numTensors, before, `${what}: no tensor leaks`);
  }
  // The three runs differ by more than the tolerance, so each setting is really exercised.
  for (const [a, b] of [[0, 1], [1, 2]] as const) assert.ok(finals[a]!.some((v, i) => Math.abs(v - finals[b]![i]!) > 1e-3));
});

test('decay applies to matrices only: kernels and embeddings, never biases or normalisation scales', () => {
  assert.equal(decays([384, 1536]), true);
  assert.equal(decays([30522, 384]), true);
  assert.equal(decays([3, 3, 16, 32]), true);
  assert.equal(decays([384]), false);
});

test('fit sets the rate before every batch, and logs the epoch\'s last one', async () => {
  const { tf } = await selectEngine(testEngine('wasm'), []);
  const c = REFERENCE.schedules.find((s) => s.schedule.type === 'warmup_cosine' && s.steps_per_epoch === 3)!;
  const spec = resolvedSpec({ epochs: c.epochs, learning_rate: c.learning_rate, batch_size: 2, schedule: c.schedule, optimizer: 'adamw', weight_decay: 0.01, max_grad_norm: 1 });
  const x = Float32Array.from({ length: 18 }, (_, i) => Math.sin(i));
  const y = Int32Array.from([0, 1, 0, 1, 1, 0]);
  const data: TrainingData = { exampleShape: [3], classes: 2, train: { x: denseRows(x, [3]), y }, validation: { x: denseRows(x, [3]), y } };
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, activation: 'softmax', inputShape: [3] })] });
  const seen: number[] = [];
  const logged: number[] = [];
  try {
    await fitVariant(
      tf,
      model,
      spec,
      data,
      {} as VariantInfo,
      [
        {
          onBatchEnd: () => void seen.push((model.optimizer as unknown as { learningRate: number }).learningRate),
          onEpochEnd: (_info, _epoch, metrics) => void logged.push(metrics.learning_rate!),
        },
      ],
      new AbortController().signal,
    );
  } finally {
    model.dispose();
  }
  close(seen, c.rates, 1e-12, 'rate at each batch');
  assert.deepEqual(logged, [c.rates[2], c.rates[5]]);
});

