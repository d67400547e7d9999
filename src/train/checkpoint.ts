import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';

// What a training loop saves to resume later, and the tfjs side of capturing and restoring it.
// The files (atomic writes, digests, which checkpoint is newest) are the run store's
// (track/checkpoint-store.ts); a loop only sees `VariantCheckpoints`. Any loop (the classification
// fit, a generation loop) can use it: its own position and counters go in `state` (plain JSON),
// its tensors in named groups.

/** One tensor's values as a checkpoint keeps them. */
export interface TensorValues {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  values: Float32Array | Int32Array;
}

/**
 * What a checkpoint must have been written under to be resumed from. Every field is a digest or a
 * name, compared for equality; a difference in any is why the checkpoint is not used.
 */
export interface CheckpointIdentity {
  /** The variant id: what the variant trains. */
  variant: string;
  /** The resolved spec as it bears on training (the variant id's fields). */
  spec: string;
  /** The base model's digest: frozen weights are never saved, so they must be the same base's. */
  base: string;
  /** The examples and their split. */
  data: string;
  /** The engine and its version: another engine's arithmetic would not continue bit for bit. */
  engine: string;
  /** Whether the loop trains on cached frozen features or end to end. */
  features: string;
}

const IDENTITY_WORDS: Record<keyof CheckpointIdentity, string> = {
  variant: 'variant',
  spec: 'spec',
  base: 'base model',
  data: 'data',
  engine: 'engine',
  features: 'feature cache use',
};

/** Why a checkpoint written under `saved` cannot continue a run under `now`, or undefined when it can. */
export function identityMismatch(saved: CheckpointIdentity, now: CheckpointIdentity): string | undefined {
  const short = (v: string): string => (/^[0-9a-f]{16,}$/.test(v) ? `${v.slice(0, 12)}…` : v);
  for (const key of Object.keys(IDENTITY_WORDS) as (keyof CheckpointIdentity)[]) {
    if (saved[key] !== now[key]) return `its ${IDENTITY_WORDS[key]} differs (checkpoint: ${short(String(saved[key]))}, this run: ${short(now[key])})`;
  }
  return undefined;
}

/** "from epoch 7/10", or "from step 30/47 of epoch 8/10" for a checkpoint written mid-epoch. */
export function describeResumePoint(p: { epoch: number; batch: number; epochs: number; batches: number }): string {
  return p.batch ? `from step ${p.batch}/${p.batches} of epoch ${p.epoch + 1}/${p.epochs}` : `from epoch ${p.epoch}/${p.epochs}`;
}

export interface Checkpoint {
  identity: CheckpointIdentity;
  /** The attempt it belongs to, and when that attempt started (epoch ms): a resumed attempt keeps both. */
  attempt: string;
  startedAt: number;
  /**
   * The machine it was written on, for an engine whose arithmetic depends on it (engine/arithmetic-host.ts):
   * resumed elsewhere it continues, but not bit for bit, and the run says so.
   */
  host?: string;
  /** Optimizer steps taken when it was written: orders checkpoints. */
  step: number;
  /** The loop's own position, counters and RNG states (plain JSON). */
  state: Record<string, unknown>;
  /** Tensors by group: trainable weights, optimizer slots, best weights, a shuffle order. */
  tensors: Record<string, TensorValues[]>;
}

export interface CheckpointSearch {
  checkpoint?: Checkpoint;
  /** Checkpoints passed over and why (damaged, written under another identity), newest first. */
  notes: string[];
}

/** A variant's checkpoints in the store it trains into; only its claim holder reads or writes them. */
export interface VariantCheckpoints {
  /** The newest checkpoint that is intact and was written under `identity`. */
  latest(identity: CheckpointIdentity): Promise<CheckpointSearch>;
  /** Write one atomically; older ones beyond what a crash or a damaged file needs are removed. */
  save(checkpoint: Checkpoint): Promise<void>;
  /** Remove them all (a retrain from scratch); how many there were. */
  discard(): Promise<number>;
}

/** What a loop gets: where to resume from, how often to save mid-epoch, and where saves go. */
export interface LoopCheckpoints {
  from?: Checkpoint;
  /** Also save every this many steps; undefined saves at epoch ends only. */
  everySteps?: number;
  save(step: number, state: Record<string, unknown>, tensors: Record<string, TensorValues[]>): Promise<void>;
}

export function valuesOf(name: string, t: TF.Tensor): TensorValues {
  const data = t.dataSync();
  const values = t.dtype === 'int32' ? Int32Array.from(data as Int32Array) : Float32Array.from(data as Float32Array);
  return { name, shape: [...t.shape], dtype: t.dtype === 'int32' ? 'int32' : 'float32', values };
}

export function tensorOf(tf: Tf, v: TensorValues): TF.Tensor {
  return tf.tensor(v.values, v.shape, v.dtype);
}

/** A weight a checkpoint keeps: every weight of a layer that trains (frozen layers run in inference mode and never change). */
interface TrackedWeight {
  name: string;
  variable: TF.LayerVariable;
}

export function trackedWeights(model: TF.LayersModel): TrackedWeight[] {
  return model.layers.filter((l) => l.trainable).flatMap((l) => l.weights.map((variable, j) => ({ name: `${l.name}/${j}`, variable })));
}

export function captureWeights(model: TF.LayersModel): TensorValues[] {
  return trackedWeights(model).map((w) => valuesOf(w.name, w.variable.read()));
}

/** Put saved values back into `model`'s tracked weights, refusing any that do not line up by name and shape. */
export function restoreWeights(tf: Tf, model: TF.LayersModel, saved: readonly TensorValues[]): void {
  const targets = trackedWeights(model);
  const names = (xs: readonly { name: string }[]) => xs.map((x) => x.name).join(', ');
  if (targets.length !== saved.length || targets.some((t, i) => t.name !== saved[i].name)) {
    throw new Error(`the checkpoint's weights (${names(saved)}) are not this model's (${names(targets)})`);
  }
  targets.forEach((t, i) => {
    if (t.variable.shape.join('x') !== saved[i].shape.join('x')) throw new Error(`weight ${t.name}: checkpoint shape [${saved[i].shape}], model [${t.variable.shape}]`);
    const value = tensorOf(tf, saved[i]);
    t.variable.write(value);
    value.dispose();
  });
}

/**
 * Optimizer state beyond `getWeights`: Adam keeps β1^t and β2^t as running products, and its
 * `setWeights` recomputes them as powers, which differ in the last bits; restored as they were.
 */
const HIDDEN_SLOTS = ['accBeta1', 'accBeta2'] as const;

type WithSlots = TF.Optimizer & Partial<Record<(typeof HIDDEN_SLOTS)[number], TF.Variable>>;

export async function captureOptimizer(optimizer: TF.Optimizer): Promise<TensorValues[]> {
  const weights = await optimizer.getWeights();
  // The first entry is the step count, a scalar made for the occasion; the rest are live slots.
  const out = weights.map((w) => valuesOf(w.name, w.tensor));
  weights[0]?.tensor.dispose();
  for (const slot of HIDDEN_SLOTS) {
    const v = (optimizer as WithSlots)[slot];
    if (v) out.push(valuesOf(`#${slot}`, v));
  }
  return out;
}

export async function restoreOptimizer(tf: Tf, optimizer: TF.Optimizer, saved: readonly TensorValues[]): Promise<void> {
  const hidden = saved.filter((v) => v.name.startsWith('#'));
  const tensors = saved.filter((v) => !v.name.startsWith('#')).map((v) => ({ name: v.name, tensor: tensorOf(tf, v) }));
  try {
    await optimizer.setWeights(tensors);
  } finally {
    tf.dispose(tensors.map((t) => t.tensor));
  }
  for (const h of hidden) {
    const slot = (optimizer as WithSlots)[h.name.slice(1) as (typeof HIDDEN_SLOTS)[number]];
    if (!slot) throw new Error(`the checkpoint's optimizer has a slot ${h.name.slice(1)} this optimizer lacks`);
    const value = tensorOf(tf, h);
    slot.assign(value);
    value.dispose();
  }
}
