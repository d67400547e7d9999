import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import type { ChatExample } from '../data/chat-dataset.ts';
import { createRng, shuffleInPlace } from '../data/rng.ts';
import { accumulationStepsOf, modeFor } from '../spec/derived.ts';
import type { GenerationExperiment, TrainingSpec } from '../spec/types.ts';
import { emit, type EpochMetrics, type SweepListener, type VariantInfo } from './events.ts';
import { Interrupted, VariantFailure } from './failure.ts';
import { InternalError } from '../errors.ts';
import type { TrainingLimit } from './fit.ts';
import { createOptimizer, setLearningRate } from './optimizer.ts';
import { noteEpoch } from './early-stopping.ts';
import { learningRateAtStep } from './schedule.ts';
import { causalLmLoss } from '../model/families/llama/causal-loss.ts';
import type { LlamaBlockLayer } from '../model/families/llama/layers.ts';
import type { Rng } from '../data/rng.ts';
import { captureOptimizer, restoreOptimizer, valuesOf, tensorOf, type LoopCheckpoints, type TensorValues } from './checkpoint.ts';
import type { LoopPosition } from './loop-position.ts';
import type { DecoderBoundary } from './decoder-features.ts';

/** An example, with its hidden states [length × hidden] at the cache boundary when training starts there. */
export interface CausalExample extends ChatExample {
  hidden?: Float32Array;
}

/**
 * Chat examples split once per sweep; `padId` fills the right end of shorter rows (masked out
 * everywhere). With `from`, every example carries its cached hidden states at that block, and
 * training runs only the blocks from it up.
 */
export interface CausalData {
  train: CausalExample[];
  validation: CausalExample[];
  padId: number;
  from?: DecoderBoundary;
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

export function padBatch(examples: readonly CausalExample[], padId: number): PaddedBatch {
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

interface BatchTensors {
  ids: TF.Tensor;
  attention: TF.Tensor;
  labels: TF.Tensor;
  /** The cached hidden states [B, T, H] at `from`, zero at padding (which attention and loss never read). */
  from?: { block: number; hidden: TF.Tensor };
}

/** Tokens the loss counts in a batch: positions t ≥ 1 whose label is 1 (each predicted from the ones before it). */
export function countedTokens(b: PaddedBatch): number {
  let n = 0;
  for (let r = 0; r < b.rows; r++) for (let t = 1; t < b.length; t++) n += b.labels[r * b.length + t] === 1 ? 1 : 0;
  return n;
}

function batchTensors(tf: Tf, examples: readonly CausalExample[], b: PaddedBatch, from: DecoderBoundary | undefined): BatchTensors {
  const shape: [number, number] = [b.rows, b.length];
  const out: BatchTensors = { ids: tf.tensor2d(b.ids, shape, 'int32'), attention: tf.tensor2d(b.attention, shape, 'int32'), labels: tf.tensor2d(b.labels, shape, 'int32') };
  if (from) {
    const H = from.hidden;
    const hidden = new Float32Array(b.rows * b.length * H);
    examples.forEach((e, r) => {
      if (!e.hidden) throw new InternalError('an example without cached hidden states in a batch trained from the cache');
      hidden.set(e.hidden, r * b.length * H);
    });
    out.from = { block: from.block, hidden: tf.tensor3d(hidden, [b.rows, b.length, H]) };
  }
  return out;
}

const disposeBatch = (tf: Tf, t: BatchTensors): void => tf.dispose([t.ids, t.attention, t.labels, ...(t.from ? [t.from.hidden] : [])]);

function batchLoss(tf: Tf, model: TF.LayersModel, t: BatchTensors, training: boolean): { loss: TF.Scalar; tokens: number } {
  return causalLmLoss(tf, model, t.ids, t.attention, t.labels, { training, from: t.from });
}

/** Token-weighted mean loss over examples, in batches, no gradients: the validation loss. */
export function causalLoss(tf: Tf, model: TF.LayersModel, examples: readonly CausalExample[], batchSize: number, padId: number, from?: DecoderBoundary): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const rows = examples.slice(i, i + batchSize);
    const t = batchTensors(tf, rows, padBatch(rows, padId), from);
    const { value, tokens } = tf.tidy(() => {
      const r = batchLoss(tf, model, t, false);
      return { value: r.loss.dataSync()[0], tokens: r.tokens };
    });
    disposeBatch(tf, t);
    sum += value * tokens;
    count += tokens;
  }
  return count ? sum / count : Number.NaN;
}

/** Optimizer steps per epoch: one per `accumulation` batches, the last one taking what is left. */
export function stepsPerEpoch(batches: number, accumulation: number): number {
  return Math.ceil(batches / accumulation);
}

/**
 * Where the loop stands, as a checkpoint keeps it (the tensors go beside it). `epoch`, `batch`
 * and `history` mean what they mean in fit.ts's position (loop-position.ts resumePoint reads them),
 * with `batch` counting optimizer steps: a checkpoint is only ever written between steps, never
 * with gradients half accumulated.
 */
interface CausalPosition extends LoopPosition {
  /** Sums over the done steps of the epoch in progress, and its seconds so far. */
  lossSum: number;
  lossTokens: number;
  seen: number;
  trainMs: number;
  /** Each LoRA block's dropout draws (by block name), beside the shuffle generator and the seeded Math.random. */
  dropout: Record<string, number>;
}

/** What fitCausal may do besides train: refuse a too-slow engine, save and resume from checkpoints. */
export interface CausalFitOptions {
  limit?: TrainingLimit;
  checkpoints?: LoopCheckpoints;
  /** The variant's seeded Math.random (train/seeded-random.ts), whose state a checkpoint keeps. */
  random?: Rng;
}

const loraBlocks = (model: TF.LayersModel): LlamaBlockLayer[] =>
  model.layers.filter((l) => /^model\.layers\.\d+$/.test(l.name) && (l as LlamaBlockLayer).lora?.()) as LlamaBlockLayer[];

/** The trainable weights by their names in the model (unique within it): a checkpoint's names. */
const weightName = (v: TF.LayerVariable): string => v.originalName;

function restoreTrainable(tf: Tf, vars: readonly TF.LayerVariable[], saved: readonly TensorValues[], what: string): TF.Tensor[] {
  const names = (xs: readonly string[]) => xs.join(', ');
  if (vars.length !== saved.length || vars.some((v, i) => weightName(v) !== saved[i].name)) {
    throw new Error(`the checkpoint's ${what} (${names(saved.map((s) => s.name))}) are not this model's trainable weights (${names(vars.map(weightName))})`);
  }
  return saved.map((s, i) => {
    if (vars[i].shape.join('x') !== s.shape.join('x')) throw new Error(`${what} ${s.name}: checkpoint shape [${s.shape}], model [${vars[i].shape}]`);
    return tensorOf(tf, s);
  });
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
 * the best epoch's trainable weights. With checkpoints, everything a step depends on is saved at
 * each epoch's end (and every N optimizer steps), so a resumed run continues exactly as the
 * unbroken one would have.
 */
export async function fitCausal(
  tf: Tf,
  model: TF.LayersModel,
  spec: GenerationExperiment,
  data: CausalData,
  info: VariantInfo,
  listeners: readonly SweepListener[],
  signal: AbortSignal,
  options: CausalFitOptions = {},
): Promise<CausalFitOutcome> {
  const { limit, checkpoints, random } = options;
  const t = spec.training as TrainingSpec;
  const accumulation = accumulationStepsOf(spec);
  const optimizer = createOptimizer(tf, t);
  const vars = model.trainableWeights;
  const trainable = vars.map((w) => w.read() as TF.Variable);
  if (!trainable.length) throw new VariantFailure('nothing to train: every weight of the model is frozen');
  const n = data.train.length;
  const rng = createRng(t.seed);
  const monitor = t.early_stopping?.monitor ?? t.objective.metric;
  const mode = modeFor(monitor, t.early_stopping?.mode ?? (t.early_stopping?.monitor ? undefined : t.objective.mode));
  const batches = Math.ceil(n / t.batch_size);
  const steps = stepsPerEpoch(batches, accumulation);
  const lora = loraBlocks(model);
  // The shuffle permutes the previous epoch's order, so the order is state too.
  let order = Array.from({ length: n }, (_, i) => i);
  let bestWeights: TF.Tensor[] | undefined;
  let p: CausalPosition = { epoch: 0, batch: 0, lossSum: 0, lossTokens: 0, seen: 0, trainMs: 0, elapsed: 0, rng: 0, dropout: {}, best: null, bestEpoch: -1, sinceBest: 0, stop: false, epochsRun: 0, history: [] };
  try {
    if (checkpoints?.from) {
      const from = checkpoints.from;
      p = from.state as unknown as CausalPosition;
      const values = restoreTrainable(tf, vars, from.tensors.weights ?? [], 'weights');
      vars.forEach((v, i) => v.write(values[i]));
      tf.dispose(values);
      await restoreOptimizer(tf, optimizer, from.tensors.optimizer ?? []);
      order = Array.from(from.tensors.order?.[0]?.values ?? order);
      if (order.length !== n) throw new Error(`the checkpoint shuffles ${order.length} examples, this run has ${n}`);
      rng.state = p.rng;
      if (random && p.random !== undefined) random.state = p.random;
      for (const b of lora) b.lora()!.calls = p.dropout[b.name] ?? 0;
      if (from.tensors.best) bestWeights = restoreTrainable(tf, vars, from.tensors.best, 'best weights');
    }
    let best = p.best ?? (mode === 'max' ? -Infinity : Infinity);
    const save = async (position: Pick<CausalPosition, 'epoch' | 'batch' | 'lossSum' | 'lossTokens' | 'seen' | 'trainMs' | 'elapsed'>): Promise<void> => {
      if (!checkpoints) return;
      const state: CausalPosition = {
        ...p,
        ...position,
        rng: rng.state,
        random: random?.state,
        dropout: Object.fromEntries(lora.map((b) => [b.name, b.lora()!.calls])),
        best: p.bestEpoch < 0 ? null : best,
      };
      const tensors: Record<string, TensorValues[]> = {
        weights: vars.map((v) => valuesOf(weightName(v), v.read())),
        optimizer: await captureOptimizer(optimizer),
        order: [{ name: 'order', shape: [n], dtype: 'int32', values: Int32Array.from(order) }],
      };
      if (bestWeights) tensors.best = vars.map((v, i) => valuesOf(weightName(v), bestWeights![i]));
      await checkpoints.save(position.epoch * steps + position.batch, state as unknown as Record<string, unknown>, tensors);
    };
    let lr = Number.NaN;
    for (let epoch = p.epoch; epoch < t.epochs && !p.stop; epoch++) {
      p.epochsRun = epoch + 1;
      const resumedMidEpoch = epoch === p.epoch && p.batch > 0;
      const firstBatch = resumedMidEpoch ? p.batch * accumulation : 0;
      const started = performance.now() - (resumedMidEpoch ? p.elapsed * 1000 : 0);
      let trainMs = resumedMidEpoch ? p.trainMs : 0;
      if (!resumedMidEpoch) shuffleInPlace(order, rng);
      let lossSum = resumedMidEpoch ? p.lossSum : 0;
      let lossTokens = resumedMidEpoch ? p.lossTokens : 0;
      let seen = resumedMidEpoch ? p.seen : 0;
      let pending: Record<string, TF.Tensor> | undefined;
      let pendingTokens = 0;
      for (let b = firstBatch; b < batches; b++) {
        if (signal.aborted) throw new Interrupted('interrupted by the user');
        const stepStart = performance.now();
        const step = Math.floor(b / accumulation);
        const next = learningRateAtStep(t, epoch * steps + step, steps);
        if (next !== lr) setLearningRate(optimizer, (lr = next));
        const rows = order.slice(b * t.batch_size, (b + 1) * t.batch_size).map((i) => data.train[i]);
        const batch = padBatch(rows, data.padId);
        let tokens = 0;
        let lossValue = Number.NaN;
        // A batch whose every completion was truncated away counts no token: its loss depends on no
        // weight (variableGrads would refuse it) and it would teach nothing, so it is skipped.
        if (countedTokens(batch) > 0) {
          const tensors = batchTensors(tf, rows, batch, data.from);
          const { value, grads } = tf.variableGrads(() => {
            const r = batchLoss(tf, model, tensors, true);
            tokens = r.tokens;
            return r.loss;
          }, trainable);
          disposeBatch(tf, tensors);
          lossValue = value.dataSync()[0];
          value.dispose();
          if (!Number.isFinite(lossValue)) {
            tf.dispose(Object.values(grads));
            tf.dispose(pending ? Object.values(pending) : []);
            throw new VariantFailure(`loss is ${lossValue} at epoch ${epoch + 1}, batch ${b + 1}`);
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
        const stepEnds = (b + 1) % accumulation === 0 || b === batches - 1;
        if (pending && stepEnds) {
          const scale = 1 / Math.max(pendingTokens, 1);
          const mean = tf.tidy(() => Object.fromEntries(Object.entries(pending!).map(([k, g]) => [k, tf.mul(g, scale)])));
          tf.dispose(Object.values(pending));
          optimizer.applyGradients(mean);
          tf.dispose(Object.values(mean));
          pending = undefined;
          pendingTokens = 0;
        }
        if (tokens) {
          lossSum += lossValue * tokens;
          lossTokens += tokens;
        }
        seen += batch.tokens;
        trainMs += performance.now() - stepStart;
        if (limit && epoch === 0 && b === 0) {
          const first = (performance.now() - started) / 1000;
          if (first * batches * t.epochs > limit.seconds) throw new VariantFailure(limit.refusal(first, batches * t.epochs));
        }
        // The epoch's last step is saved with the epoch's end, metrics and all.
        const global = epoch * steps + step + 1;
        if (stepEnds && checkpoints?.everySteps && global % checkpoints.everySteps === 0 && b + 1 < batches) {
          await save({ epoch, batch: step + 1, lossSum, lossTokens, seen, trainMs, elapsed: (performance.now() - started) / 1000 });
        }
        await emit(listeners, 'onBatchEnd', info, epoch, b, batches, tokens ? lossValue : lossSum / Math.max(lossTokens, 1));
        // A macrotask turn, so signals and progress timers are seen during a long variant.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const valLoss = causalLoss(tf, model, data.validation, t.batch_size, data.padId, data.from);
      if (!Number.isFinite(valLoss)) throw new VariantFailure(`validation loss is ${valLoss} after epoch ${epoch + 1}`);
      const metrics: EpochMetrics = {
        loss: lossSum / Math.max(lossTokens, 1),
        val_loss: valLoss,
        val_perplexity: Math.exp(valLoss),
        tokens_per_second: seen / (trainMs / 1000),
        learning_rate: lr,
        epoch_seconds: (performance.now() - started) / 1000,
      };
      const at = Date.now();
      const noted = noteEpoch(p, epoch, metrics[monitor], best, mode, t.early_stopping);
      best = noted.best;
      if (noted.improved && t.early_stopping) {
        tf.dispose(bestWeights);
        bestWeights = trainable.map((v) => v.clone());
      }
      p.history.push({ epoch, metrics, at });
      // Saved before the sinks hear of the epoch: a sink never holds an epoch that no checkpoint
      // covers, so a resumed run does not log one twice.
      await save({ epoch: epoch + 1, batch: 0, lossSum: 0, lossTokens: 0, seen: 0, trainMs: 0, elapsed: 0 });
      await emit(listeners, 'onEpochEnd', info, epoch, metrics, at);
    }
    // Only trainable weights change, so restoring them restores the best epoch's model.
    if (bestWeights) trainable.forEach((v, i) => v.assign(bestWeights![i]));
    const bestEntry = p.history.find((h) => h.epoch === p.bestEpoch);
    const keptMetrics = t.early_stopping && bestEntry ? bestEntry.metrics : p.history[p.history.length - 1].metrics;
    const kept = t.early_stopping ? p.bestEpoch + 1 : p.epochsRun;
    return {
      metrics: { val_loss: keptMetrics.val_loss, val_perplexity: keptMetrics.val_perplexity, kept_epoch: kept, epochs_run: p.epochsRun },
      bestEpoch: kept,
    };
  } finally {
    tf.dispose(bestWeights);
    optimizer.dispose();
  }
}
