import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import type { ChatExample } from '../data/chat-dataset.ts';
import { createRng, shuffleInPlace } from '../data/rng.ts';
import { accumulationStepsOf, modeFor } from '../spec/derived.ts';
import type { GenerationExperiment, TrainingSpec } from '../spec/types.ts';
import { emit, type EpochMetrics, type SweepListener, type VariantInfo } from './events.ts';
import { Interrupted, VariantFailure } from './failure.ts';
import type { TrainingLimit } from './fit.ts';
import { createOptimizer } from './optimizer.ts';
import { learningRateAtStep } from './schedule.ts';
import { causalLmLoss } from '../model/families/llama/causal-loss.ts';

/** Chat examples split once per sweep; `padId` fills the right end of shorter rows (masked out everywhere). */
export interface CausalData {
  train: ChatExample[];
  validation: ChatExample[];
  padId: number;
}

export interface CausalFitOutcome {
  /** The kept weights' validation loss and perplexity, the kept epoch and how many ran. */
  metrics: EpochMetrics;
  bestEpoch: number;
}

/** Rows padded on the right to the batch's longest: ids, attention mask and label mask as [B, T] int32. */
export interface PaddedBatch {
  ids: Int32Array;
  attention: Int32Array;
  labels: Int32Array;
  rows: number;
  length: number;
  /** Real (non-padding) tokens in the batch. */
  tokens: number;
}

export function padBatch(examples: readonly ChatExample[], padId: number): PaddedBatch {
  const length = Math.max(...examples.map((e) => e.ids.length));
  const rows = examples.length;
  const ids = new Int32Array(rows * length).fill(padId);
  const attention = new Int32Array(rows * length);
  const labels = new Int32Array(rows * length);
  let tokens = 0;
  examples.forEach((e, r) => {
    ids.set(e.ids, r * length);
    attention.fill(1, r * length, r * length + e.ids.length);
    labels.set(e.labelMask, r * length);
    tokens += e.ids.length;
  });
  return { ids, attention, labels, rows, length, tokens };
}

type LossFn = typeof causalLmLoss;

/** Tokens the loss counts in a batch: positions t ≥ 1 whose label is 1 (each predicted from the ones before it). */
export function countedTokens(b: PaddedBatch): number {
  let n = 0;
  for (let r = 0; r < b.rows; r++) for (let t = 1; t < b.length; t++) n += b.labels[r * b.length + t] === 1 ? 1 : 0;
  return n;
}

function batchTensors(tf: Tf, b: PaddedBatch): TF.Tensor[] {
  const shape: [number, number] = [b.rows, b.length];
  return [tf.tensor2d(b.ids, shape, 'int32'), tf.tensor2d(b.attention, shape, 'int32'), tf.tensor2d(b.labels, shape, 'int32')];
}

/** Token-weighted mean loss over examples, in batches, no gradients: the validation loss. */
export function causalLoss(tf: Tf, model: TF.LayersModel, examples: readonly ChatExample[], batchSize: number, padId: number, loss: LossFn = causalLmLoss): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const t = batchTensors(tf, padBatch(examples.slice(i, i + batchSize), padId));
    const { value, tokens } = tf.tidy(() => {
      const r = loss(tf, model, t[0], t[1], t[2]);
      return { value: r.loss.dataSync()[0], tokens: r.tokens };
    });
    tf.dispose(t);
    sum += value * tokens;
    count += tokens;
  }
  return count ? sum / count : Number.NaN;
}

function setLearningRate(optimizer: TF.Optimizer, lr: number): void {
  const o = optimizer as TF.Optimizer & { setLearningRate?: (lr: number) => void; learningRate: number };
  if (o.setLearningRate) o.setLearningRate(lr);
  else o.learningRate = lr;
}

function improved(value: number, best: number, mode: 'max' | 'min', minDelta: number): boolean {
  return mode === 'max' ? value > best + minDelta : value < best - minDelta;
}

/** Optimizer steps per epoch: one per `accumulation` batches, the last one taking what is left. */
export function stepsPerEpoch(batches: number, accumulation: number): number {
  return Math.ceil(batches / accumulation);
}

/**
 * Train a decoder on prompts and completions. Each epoch shuffles the training examples with the
 * spec's seed and walks them in batches padded to their own longest row. Gradients of
 * `gradient_accumulation_steps` batches are summed, each weighted by its learned tokens, before
 * one optimizer step (so a step is the token-mean loss of all its batches, as one big batch would
 * be); the schedule counts optimizer steps; AdamW decay and gradient clipping are the optimizer's
 * (optimizer.ts). Per epoch: `loss` (token-weighted mean over the epoch), `val_loss`,
 * `val_perplexity` = exp(val_loss), `tokens_per_second` (real tokens, prompt and completion,
 * through forward and backward, over the training time, validation excluded), `learning_rate`
 * (the last step's) and `epoch_seconds`. Early stopping (on val_loss unless the spec says) keeps
 * the best epoch's trainable weights.
 */
export async function fitCausal(
  tf: Tf,
  model: TF.LayersModel,
  spec: GenerationExperiment,
  data: CausalData,
  info: VariantInfo,
  listeners: readonly SweepListener[],
  signal: AbortSignal,
  limit?: TrainingLimit,
  loss: LossFn = causalLmLoss,
): Promise<CausalFitOutcome> {
  const t = spec.training as TrainingSpec;
  const accumulation = accumulationStepsOf(spec);
  const optimizer = createOptimizer(tf, t);
  const trainable = model.trainableWeights.map((w) => w.read() as TF.Variable);
  if (!trainable.length) throw new VariantFailure('nothing to train: every weight of the model is frozen');
  const n = data.train.length;
  const rng = createRng(t.seed);
  const monitor = t.early_stopping?.monitor ?? t.objective.metric;
  const mode = modeFor(monitor, t.early_stopping?.mode ?? (t.early_stopping?.monitor ? undefined : t.objective.mode));
  let best = mode === 'max' ? -Infinity : Infinity;
  let bestEpoch = -1;
  let bestMetrics: EpochMetrics | undefined;
  let bestWeights: TF.Tensor[] | undefined;
  let sinceBest = 0;
  const order = Array.from({ length: n }, (_, i) => i);
  const batches = Math.ceil(n / t.batch_size);
  const steps = stepsPerEpoch(batches, accumulation);
  let epochsRun = 0;
  let lr = Number.NaN;
  let last: EpochMetrics | undefined;
  try {
    for (let epoch = 0; epoch < t.epochs; epoch++) {
      epochsRun = epoch + 1;
      const started = performance.now();
      let trainMs = 0;
      shuffleInPlace(order, rng);
      let lossSum = 0;
      let lossTokens = 0;
      let seen = 0;
      let pending: Record<string, TF.Tensor> | undefined;
      let pendingTokens = 0;
      for (let b = 0; b < batches; b++) {
        if (signal.aborted) throw new Interrupted('interrupted by the user');
        const stepStart = performance.now();
        const step = Math.floor(b / accumulation);
        const next = learningRateAtStep(t, epoch * steps + step, steps);
        if (next !== lr) setLearningRate(optimizer, (lr = next));
        const batch = padBatch(order.slice(b * t.batch_size, (b + 1) * t.batch_size).map((i) => data.train[i]), data.padId);
        let tokens = 0;
        let batchLoss = Number.NaN;
        // A batch whose every completion was truncated away counts no token: its loss depends on no
        // weight (variableGrads would refuse it) and it would teach nothing, so it is skipped.
        if (countedTokens(batch) > 0) {
          const tensors = batchTensors(tf, batch);
          const { value, grads } = tf.variableGrads(() => {
            const r = loss(tf, model, tensors[0], tensors[1], tensors[2], { training: true });
            tokens = r.tokens;
            return r.loss;
          }, trainable);
          tf.dispose(tensors);
          batchLoss = value.dataSync()[0];
          value.dispose();
          if (!Number.isFinite(batchLoss)) {
            tf.dispose(Object.values(grads));
            tf.dispose(pending ? Object.values(pending) : []);
            throw new VariantFailure(`loss is ${batchLoss} at epoch ${epoch + 1}, batch ${b + 1}`);
          }
          // Sum of token-weighted gradients; divided by the step's tokens when it is applied.
          const weighted = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, tokens)])));
          tf.dispose(Object.values(grads));
          if (pending) {
            const sum = tf.tidy(() => Object.fromEntries(Object.entries(weighted).map(([k, g]) => [k, tf.add(pending![k], g)])));
            tf.dispose([...Object.values(pending), ...Object.values(weighted)]);
            pending = sum;
          } else {
            pending = weighted;
          }
          pendingTokens += tokens;
        }
        if (pending && ((b + 1) % accumulation === 0 || b === batches - 1)) {
          const scale = 1 / Math.max(pendingTokens, 1);
          const mean = tf.tidy(() => Object.fromEntries(Object.entries(pending!).map(([k, g]) => [k, tf.mul(g, scale)])));
          tf.dispose(Object.values(pending));
          optimizer.applyGradients(mean);
          tf.dispose(Object.values(mean));
          pending = undefined;
          pendingTokens = 0;
        }
        if (tokens) {
          lossSum += batchLoss * tokens;
          lossTokens += tokens;
        }
        seen += batch.tokens;
        trainMs += performance.now() - stepStart;
        if (limit && epoch === 0 && b === 0) {
          const first = (performance.now() - started) / 1000;
          if (first * batches * t.epochs > limit.seconds) throw new VariantFailure(limit.refusal(first, batches * t.epochs));
        }
        await emit(listeners, 'onBatchEnd', info, epoch, b, batches, tokens ? batchLoss : lossSum / Math.max(lossTokens, 1));
        // A macrotask turn, so signals and progress timers are seen during a long variant.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const valLoss = causalLoss(tf, model, data.validation, t.batch_size, data.padId, loss);
      if (!Number.isFinite(valLoss)) throw new VariantFailure(`validation loss is ${valLoss} after epoch ${epoch + 1}`);
      const metrics: EpochMetrics = {
        loss: lossSum / Math.max(lossTokens, 1),
        val_loss: valLoss,
        val_perplexity: Math.exp(valLoss),
        tokens_per_second: seen / (trainMs / 1000),
        learning_rate: lr,
        epoch_seconds: (performance.now() - started) / 1000,
      };
      last = metrics;
      await emit(listeners, 'onEpochEnd', info, epoch, metrics, Date.now());
      if (improved(metrics[monitor], best, mode, t.early_stopping?.min_delta ?? 0)) {
        best = metrics[monitor];
        bestEpoch = epoch;
        bestMetrics = metrics;
        sinceBest = 0;
        if (t.early_stopping) {
          tf.dispose(bestWeights);
          bestWeights = trainable.map((v) => v.clone());
        }
      } else if (t.early_stopping && ++sinceBest > t.early_stopping.patience) {
        break;
      }
    }
    // Only trainable weights change, so restoring them restores the best epoch's model.
    if (bestWeights) trainable.forEach((v, i) => v.assign(bestWeights![i]));
    const keptMetrics = t.early_stopping && bestMetrics ? bestMetrics : last!;
    const kept = t.early_stopping ? bestEpoch + 1 : epochsRun;
    return {
      metrics: { val_loss: keptMetrics.val_loss, val_perplexity: keptMetrics.val_perplexity, kept_epoch: kept, epochs_run: epochsRun },
      bestEpoch: kept,
    };
  } finally {
    tf.dispose(bestWeights);
    optimizer.dispose();
  }
}
