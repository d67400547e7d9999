import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import { activeAugmentation, augmentBatch } from '../data/augment.ts';
import { createRng, shuffleInPlace, type Rng } from '../data/rng.ts';
import type { RowSource } from '../data/rows.ts';
import type { Experiment } from '../spec/types.ts';
import { emit, type EpochMetrics, type SweepListener, type VariantInfo } from './events.ts';
import { evaluate, type Evaluation } from './evaluate.ts';
import { learningRateAtStep } from './schedule.ts';
import { createOptimizer, setLearningRate } from './optimizer.ts';
import { noteEpoch } from './early-stopping.ts';
import { modelInputs } from './model-inputs.ts';
import { trainStep, type StepTensors } from './train-step.ts';
import { modeFor } from '../spec/derived.ts';
import { Interrupted, VariantFailure } from './failure.ts';
import { captureOptimizer, captureWeights, restoreOptimizer, restoreWeights, trackedWeights, type LoopCheckpoints, type TensorValues } from './checkpoint.ts';
import type { LoopPosition } from './loop-position.ts';

/**
 * A split's two sides, set up once per sweep (it never depends on the variant's training
 * settings); `x` makes each batch's rows when asked, so no side is held as a copy.
 */
export interface TrainingData {
  exampleShape: number[];
  classes: number;
  train: { x: RowSource; y: Int32Array };
  validation: { x: RowSource; y: Int32Array };
  /** Largest value after scaling, for augmentation clamping; undefined for tabular data. */
  maxValue?: number;
  /**
   * Frozen layers run outside the trained model on each training batch (onnxruntime): then the
   * train rows are inputs of `inputShape`, augmented as usual and fed through `run`, and
   * `exampleShape` and the validation rows are the model's input, the frozen layers' output.
   */
  prefix?: FrozenPrefix;
}

export interface FrozenPrefix {
  inputShape: number[];
  /** Rows of `inputShape` in, the same rows of the trained model's input out. */
  run(x: Float32Array): Promise<Float32Array>;
}


/** A bound on the estimated training time, checked after the first step (the probe). */
export interface TrainingLimit {
  seconds: number;
  /** The refusal, given the first step's seconds and the number of steps. */
  refusal(stepSeconds: number, steps: number): string;
}

/** Losses are read back at least this often (and on the first step, before a checkpoint, at an epoch's end). */
const READ_BACK_MS = 1000;

export interface FitOutcome {
  metrics: EpochMetrics;
  bestEpoch: number;
  confusion: number[][];
}

function snapshot(model: TF.LayersModel): TF.Tensor[] {
  return model.weights.map((w) => w.read().clone());
}

/** Where the loop stands, as a checkpoint keeps it, with the sums over the done batches of the epoch in progress. */
interface FitPosition extends LoopPosition {
  lossSum: number;
  accSum: number;
}

/** What fit may do besides train: refuse a too-slow engine, save and resume from checkpoints. */
export interface FitOptions {
  limit?: TrainingLimit;
  checkpoints?: LoopCheckpoints;
  /** The seeded Math.random of the variant (train/seeded-random.ts), whose state a checkpoint keeps. */
  random?: Rng;
}

/**
 * Train one compiled-ready model. Batches come from our own seeded shuffle and our own split
 * (never tfjs's validationSplit, which takes the last rows unshuffled); early stopping keeps the
 * best weights, which tfjs's callback cannot do. With checkpoints, everything a step depends on
 * is saved at each epoch's end (and every N steps): a run resumed from one continues exactly as
 * the unbroken run would have.
 */
export async function fitVariant(
  tf: Tf,
  model: TF.LayersModel,
  spec: Experiment,
  data: TrainingData,
  info: VariantInfo,
  listeners: readonly SweepListener[],
  signal: AbortSignal,
  limitOrOptions?: TrainingLimit | FitOptions,
): Promise<FitOutcome> {
  const o: FitOptions = limitOrOptions && 'refusal' in limitOrOptions ? { limit: limitOrOptions } : (limitOrOptions ?? {});
  const { limit, checkpoints, random } = o;
  const t = spec.training;
  const optimizer = createOptimizer(tf, t);
  // Compiling after `trainable` is set is what makes the optimizer see exactly the trainable weights.
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const inputShape = data.prefix?.inputShape ?? data.exampleShape;
  const n = data.train.y.length;
  const rng = createRng(t.seed);
  const augment = activeAugmentation(spec.data);
  const monitor = t.early_stopping?.monitor ?? t.objective.metric;
  const mode = modeFor(monitor, t.early_stopping?.mode ?? (t.early_stopping?.monitor ? undefined : t.objective.mode));
  const batches = Math.ceil(n / t.batch_size);
  // The shuffle permutes the previous epoch's order, so the order is state too.
  let order = Int32Array.from({ length: n }, (_, i) => i);
  let bestWeights: TF.Tensor[] | undefined;
  let p: FitPosition = { epoch: 0, batch: 0, lossSum: 0, accSum: 0, elapsed: 0, rng: 0, best: null, bestEpoch: -1, sinceBest: 0, stop: false, epochsRun: 0, history: [] };
  if (checkpoints?.from) {
    const from = checkpoints.from;
    p = from.state as unknown as FitPosition;
    restoreWeights(tf, model, from.tensors.weights ?? []);
    await restoreOptimizer(tf, optimizer, from.tensors.optimizer ?? []);
    order = Int32Array.from(from.tensors.order?.[0]?.values ?? order);
    if (order.length !== n) throw new Error(`the checkpoint shuffles ${order.length} examples, this run has ${n}`);
    rng.state = p.rng;
    if (random && p.random !== undefined) random.state = p.random;
    if (from.tensors.best) {
      // The kept best weights: the frozen ones are the model's own, the rest come from the checkpoint.
      bestWeights = snapshot(model);
      const tracked = new Set(trackedWeights(model).map((w) => w.variable));
      const saved = [...from.tensors.best];
      model.weights.forEach((w, i) => {
        if (!tracked.has(w)) return;
        const v = saved.shift()!;
        bestWeights![i].dispose();
        bestWeights![i] = tf.tensor(v.values, v.shape, v.dtype);
      });
    }
  }
  let best = p.best ?? (mode === 'max' ? -Infinity : Infinity);
  const save = async (epoch: number, batch: number, lossSum: number, accSum: number, elapsed: number): Promise<void> => {
    if (!checkpoints) return;
    const position: FitPosition = { ...p, epoch, batch, lossSum, accSum, elapsed, rng: rng.state, random: random?.state, best: p.bestEpoch < 0 ? null : best };
    const tensors: Record<string, TensorValues[]> = {
      weights: captureWeights(model),
      optimizer: await captureOptimizer(optimizer),
      order: [{ name: 'order', shape: [n], dtype: 'int32', values: order }],
    };
    if (bestWeights) {
      const tracked = new Set(trackedWeights(model).map((w) => w.variable));
      tensors.best = model.weights.flatMap((w, i) => (tracked.has(w) ? [{ name: `best/${i}`, shape: [...bestWeights![i].shape], dtype: 'float32' as const, values: Float32Array.from(bestWeights![i].dataSync() as Float32Array) }] : []));
    }
    await checkpoints.save(epoch * batches + batch, position as unknown as Record<string, unknown>, tensors);
  };
  const step = trainStep(tf, model, data.classes);
  /** Steps whose loss and correct count are still on the engine, oldest first. */
  let pending: { epoch: number; batch: number; rows: number; result: StepTensors }[] = [];
  let lastReadBack = -Infinity;
  /** Sums over the epoch in progress, of the steps read back. */
  let lossSum = 0;
  let accSum = 0;
  /** Reads the pending steps back in one transfer, adds them to the sums and returns the last one's loss. */
  const readBack = async (): Promise<number> => {
    const steps = pending;
    pending = [];
    const results = steps.map((s) => s.result);
    const values = tf.tidy(() => tf.stack([...results.map((r) => r.loss), ...results.map((r) => r.correct)]));
    tf.dispose(results.flatMap((r) => [r.loss, r.correct]));
    const v = (await values.data()) as Float32Array;
    values.dispose();
    lastReadBack = performance.now();
    steps.forEach((s, i) => {
      if (!Number.isFinite(v[i])) throw new VariantFailure(`loss is ${v[i]} at epoch ${s.epoch + 1}, batch ${s.batch + 1}`);
      // In step order and in float64, as when each step was read back alone.
      lossSum += v[i] * s.rows;
      accSum += v[steps.length + i];
    });
    return v[steps.length - 1];
  };
  /** The rate the optimizer holds. */
  let lr = Number.NaN;
  let firstStep = true;
  try {
    for (let epoch = p.epoch; epoch < t.epochs && !p.stop; epoch++) {
      p.epochsRun = epoch + 1;
      const resumedMidEpoch = epoch === p.epoch && p.batch > 0;
      const first = resumedMidEpoch ? p.batch : 0;
      const started = performance.now() - (resumedMidEpoch ? p.elapsed * 1000 : 0);
      if (!resumedMidEpoch) shuffleInPlace(order, rng);
      lossSum = resumedMidEpoch ? p.lossSum : 0;
      accSum = resumedMidEpoch ? p.accSum : 0;
      for (let b = first; b < batches; b++) {
        if (signal.aborted) throw new Interrupted('interrupted by the user');
        const stepIndex = epoch * batches + b;
        const next = learningRateAtStep(t, stepIndex, batches);
        // SGD rebuilds a tensor on every change; epoch schedules change the rate once an epoch.
        if (next !== lr) setLearningRate(optimizer, (lr = next));
        const idx = Array.from(order.subarray(b * t.batch_size, (b + 1) * t.batch_size));
        let xb: Float32Array = data.train.x.gather(idx);
        if (augment) xb = augmentBatch(xb, inputShape, augment, rng, data.maxValue ?? 1);
        if (data.prefix) xb = await data.prefix.run(xb);
        const labels = Int32Array.from(idx, (row) => data.train.y[row]);
        const x = tf.tidy(() => modelInputs(tf, model, xb, idx.length, data.exampleShape));
        try {
          pending.push({ epoch, batch: b, rows: idx.length, result: await step(x, labels) });
        } finally {
          tf.dispose(x);
        }
        // The epoch's last step is saved with the epoch's end, metrics and all.
        const checkpointDue = !!checkpoints?.everySteps && (stepIndex + 1) % checkpoints.everySteps === 0 && b + 1 < batches;
        // Read back on the first step (the slow-engine limit times it), before a checkpoint (its
        // sums must be exact), at the epoch's end, and often enough for progress; never each step,
        // which on an accelerator would wait for every step to finish before queueing the next.
        const now = performance.now();
        const read = firstStep || checkpointDue || b + 1 === batches || now - lastReadBack >= READ_BACK_MS;
        const loss = read ? await readBack() : undefined;
        if (limit && stepIndex === 0) {
          const stepSeconds = (performance.now() - started) / 1000;
          if (stepSeconds * batches * t.epochs > limit.seconds) throw new VariantFailure(limit.refusal(stepSeconds, batches * t.epochs));
        }
        firstStep = false;
        if (checkpointDue) await save(epoch, b + 1, lossSum, accSum, (performance.now() - started) / 1000);
        await emit(listeners, 'onBatchEnd', info, epoch, b, batches, loss);
        // Backends resolve their promises as microtasks; without a macrotask turn, signals,
        // progress timers and background uploads would wait for the whole variant. A turn costs
        // 1-2 µs (bench/train-step.ts), nothing beside a step.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const val = evaluate(tf, model, data.validation.x, data.exampleShape, data.validation.y, data.classes, t.batch_size);
      // Some backends clip NaN probabilities into a finite training loss; validation sees through it.
      if (!Number.isFinite(val.loss)) throw new VariantFailure(`validation loss is ${val.loss} after epoch ${epoch + 1}: the model outputs NaN`);
      const seconds = (performance.now() - started) / 1000;
      const metrics: EpochMetrics = {
        loss: lossSum / n,
        accuracy: accSum / n,
        val_loss: val.loss,
        val_accuracy: val.accuracy,
        learning_rate: lr,
        epoch_seconds: seconds,
        examples_per_second: n / seconds,
      };
      const at = Date.now();
      const noted = noteEpoch(p, epoch, metrics[monitor], best, mode, t.early_stopping);
      best = noted.best;
      if (noted.improved && t.early_stopping) {
        tf.dispose(bestWeights);
        bestWeights = snapshot(model);
      }
      p.history.push({ epoch, metrics, at });
      // Saved before the sinks hear of the epoch: a sink never holds an epoch that no checkpoint
      // covers, so a resumed run does not log one twice.
      await save(epoch + 1, 0, 0, 0, 0);
      await emit(listeners, 'onEpochEnd', info, epoch, metrics, at);
    }
    if (bestWeights) model.setWeights(bestWeights);
    // Without early stopping the kept weights are the last epoch's, whatever the objective did.
    const kept = t.early_stopping ? p.bestEpoch + 1 : p.epochsRun;
    const final: Evaluation = evaluate(tf, model, data.validation.x, data.exampleShape, data.validation.y, data.classes, t.batch_size);
    return {
      metrics: { val_loss: final.loss, val_accuracy: final.accuracy, kept_epoch: kept, epochs_run: p.epochsRun },
      bestEpoch: kept,
      confusion: final.confusion,
    };
  } finally {
    tf.dispose(pending.flatMap((s) => [s.result.loss, s.result.correct]));
    tf.dispose(bestWeights);
    optimizer.dispose();
  }
}
