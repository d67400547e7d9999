import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import { activeAugmentation, augmentBatch } from '../data/augment.ts';
import { createRng, shuffleInPlace } from '../data/rng.ts';
import { gatherRows } from '../data/gather.ts';
import type { Experiment } from '../spec/types.ts';
import { emit, type EpochMetrics, type SweepListener, type VariantInfo } from './events.ts';
import { evaluate, type Evaluation } from './evaluate.ts';
import { learningRateAtStep } from './schedule.ts';
import { createOptimizer } from './optimizer.ts';
import { modelInputs } from './model-inputs.ts';
import { modeFor } from '../spec/derived.ts';
import { Interrupted, VariantFailure } from './failure.ts';

/** Examples gathered once per sweep: the split never depends on the variant's training settings. */
export interface TrainingData {
  exampleShape: number[];
  classes: number;
  train: { x: Float32Array; y: Int32Array };
  validation: { x: Float32Array; y: Int32Array };
  /** Largest value after scaling, for augmentation clamping; undefined for tabular data. */
  maxValue?: number;
}


/** A bound on the estimated training time, checked after the first step (the probe). */
export interface TrainingLimit {
  seconds: number;
  /** The refusal, given the first step's seconds and the number of steps. */
  refusal(stepSeconds: number, steps: number): string;
}

export interface FitOutcome {
  metrics: EpochMetrics;
  bestEpoch: number;
  confusion: number[][];
}

function setLearningRate(optimizer: TF.Optimizer, lr: number): void {
  // SGD caches its rate as a tensor, so it needs its setter; the others read the field each step.
  const o = optimizer as TF.Optimizer & { setLearningRate?: (lr: number) => void; learningRate: number };
  if (o.setLearningRate) o.setLearningRate(lr);
  else o.learningRate = lr;
}

function snapshot(model: TF.LayersModel): TF.Tensor[] {
  return model.weights.map((w) => w.read().clone());
}

function improved(value: number, best: number, mode: 'max' | 'min', minDelta: number): boolean {
  return mode === 'max' ? value > best + minDelta : value < best - minDelta;
}

/**
 * Train one compiled-ready model. Batches come from our own seeded shuffle and our own split
 * (never tfjs's validationSplit, which takes the last rows unshuffled); early stopping keeps the
 * best weights, which tfjs's callback cannot do.
 */
export async function fitVariant(
  tf: Tf,
  model: TF.LayersModel,
  spec: Experiment,
  data: TrainingData,
  info: VariantInfo,
  listeners: readonly SweepListener[],
  signal: AbortSignal,
  limit?: TrainingLimit,
): Promise<FitOutcome> {
  const t = spec.training;
  const optimizer = createOptimizer(tf, t);
  // Compiling after `trainable` is set is what makes the optimizer see exactly the trainable weights.
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const size = data.exampleShape.reduce((a, b) => a * b, 1);
  const n = data.train.y.length;
  const rng = createRng(t.seed);
  const augment = activeAugmentation(spec.data);
  const monitor = t.early_stopping?.monitor ?? t.objective.metric;
  const mode = modeFor(monitor, t.early_stopping?.mode ?? (t.early_stopping?.monitor ? undefined : t.objective.mode));
  let best = mode === 'max' ? -Infinity : Infinity;
  let bestEpoch = -1;
  let bestWeights: TF.Tensor[] | undefined;
  let sinceBest = 0;
  const order = Array.from({ length: n }, (_, i) => i);
  const batches = Math.ceil(n / t.batch_size);
  let epochsRun = 0;
  /** The rate the optimizer holds. */
  let lr = Number.NaN;
  try {
    for (let epoch = 0; epoch < t.epochs; epoch++) {
      epochsRun = epoch + 1;
      const started = performance.now();
      shuffleInPlace(order, rng);
      let lossSum = 0;
      let accSum = 0;
      for (let b = 0; b < batches; b++) {
        if (signal.aborted) throw new Interrupted('interrupted by the user');
        const next = learningRateAtStep(t, epoch * batches + b, batches);
        // SGD rebuilds a tensor on every change; epoch schedules change the rate once an epoch.
        if (next !== lr) setLearningRate(optimizer, (lr = next));
        const idx = order.slice(b * t.batch_size, (b + 1) * t.batch_size);
        let xb = gatherRows(data.train.x, size, idx);
        if (augment) xb = augmentBatch(xb, data.exampleShape, augment, rng, data.maxValue ?? 1);
        const labels = Int32Array.from(idx, (row) => data.train.y[row]);
        const x = tf.tidy(() => modelInputs(tf, model, xb, idx.length, data.exampleShape));
        const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), data.classes));
        const out = (await model.trainOnBatch(x, y)) as number[];
        tf.dispose([x, y]);
        const [loss, acc] = out;
        if (!Number.isFinite(loss)) throw new VariantFailure(`loss is ${loss} at epoch ${epoch + 1}, batch ${b + 1}`);
        lossSum += loss * idx.length;
        accSum += acc * idx.length;
        if (limit && epoch === 0 && b === 0) {
          const step = (performance.now() - started) / 1000;
          if (step * batches * t.epochs > limit.seconds) throw new VariantFailure(limit.refusal(step, batches * t.epochs));
        }
        await emit(listeners, 'onBatchEnd', info, epoch, b, batches, loss);
        // Backends resolve their promises as microtasks; without a macrotask turn, signals,
        // progress timers and background uploads would wait for the whole variant.
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
      await emit(listeners, 'onEpochEnd', info, epoch, metrics, Date.now());
      if (improved(metrics[monitor], best, mode, t.early_stopping?.min_delta ?? 0)) {
        best = metrics[monitor];
        bestEpoch = epoch;
        sinceBest = 0;
        if (t.early_stopping) {
          tf.dispose(bestWeights);
          bestWeights = snapshot(model);
        }
      } else if (t.early_stopping && ++sinceBest > t.early_stopping.patience) {
        break;
      }
    }
    if (bestWeights) model.setWeights(bestWeights);
    // Without early stopping the kept weights are the last epoch's, whatever the objective did.
    const kept = t.early_stopping ? bestEpoch + 1 : epochsRun;
    const final: Evaluation = evaluate(tf, model, data.validation.x, data.exampleShape, data.validation.y, data.classes, t.batch_size);
    return {
      metrics: { val_loss: final.loss, val_accuracy: final.accuracy, kept_epoch: kept, epochs_run: epochsRun },
      bestEpoch: kept,
      confusion: final.confusion,
    };
  } finally {
    tf.dispose(bestWeights);
    optimizer.dispose();
  }
}
