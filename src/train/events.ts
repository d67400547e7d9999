import type { Variant } from '../plan/expand.ts';
import type { SavedModel } from '../model/save.ts';
import type { FeatureCacheReport } from './frozen-features.ts';
import type { OnnxExportResult } from './onnx-parity.ts';
import type { VariantCheckpoints } from './checkpoint.ts';

export type EpochMetrics = Record<string, number>;

/** A generation variant's model as it is used by name (status.json `model`). */
export interface ModelRecord {
  /** `ft:<base-name>:<experiment>:<variant-id>` (model/model-name.ts). */
  name: string;
  task: 'generation';
  /** The base it was fine-tuned from: its name, and its absolute path or URL (no credentials). */
  base: { name: string; source: string };
  /** The variant's sub-folder holding the merged model as a Hugging Face folder. */
  folder: string;
}

export type VariantStatus = 'completed' | 'failed' | 'interrupted' | 'skipped';

export interface VariantResult {
  status: VariantStatus;
  /** Unique per training attempt: what ties a stored attempt to its tracked run. */
  attempt: string;
  /** Epoch milliseconds. */
  startedAt: number;
  finishedAt: number;
  reason?: string;
  /** The failure would recur on a retry with the same inputs (a NaN loss): queues do not retry it. */
  deterministic?: boolean;
  /** Final validation metrics of the kept weights (the best epoch when early stopping is on). */
  metrics?: EpochMetrics;
  bestEpoch?: number;
  confusion?: number[][];
  model?: SavedModel;
  /** An ONNX base's graph cut where the variant's head starts, which its tfjs model (the head) needs in front. */
  baseGraph?: Uint8Array;
  /** Absent when the spec turns ONNX export off. */
  onnx?: OnnxExportResult;
  /**
   * A temporary folder of further outputs (a generation variant's merged/, adapter/,
   * completions.json): the run store moves its entries into the variant's folder, and the sweep
   * removes the folder after onVariantEnd.
   */
  outputDir?: string;
  /** A generation variant's model name and where its model is. */
  modelRecord?: ModelRecord;
  seconds: number;
}

/**
 * The right to train a variant into a store other processes share (two terminals, array tasks,
 * queue workers): a variant is trained by one process at a time.
 */
export interface VariantClaims {
  /** Take the variant, or say who holds it. Never waits. */
  claim(variant: Variant): Promise<VariantClaim>;
}

export type VariantClaim =
  | {
      release(): Promise<void>;
      /** Where another process stored a completed attempt of it since this sweep started. */
      completedMeanwhile?: string;
      /** Where the variant's checkpoints live; absent when the store keeps none. */
      checkpoints?: VariantCheckpoints;
    }
  | { holder: string };

export interface SweepInfo {
  experiment: string;
  sweepId: string;
  specFile: string;
  specText: string;
  variants: Variant[];
}

export interface VariantInfo {
  variant: Variant;
  attempt: string;
  startedAt: number;
  position: number;
  total: number;
  engine: { name: string; reason: string; version: string };
  split: { train: number; validation: number; digest: string };
  /** For chat data: how many examples max_length cut, and how many of those lost every completion token (left out). */
  data: { digest: string; classNames: string[]; truncated?: number; dropped?: number };
  layers: { name: string; className: string; params: number; trainable: boolean }[];
  trainableParams: number;
  featureCache: FeatureCacheReport;
  /**
   * Set when this attempt continues an earlier one from a checkpoint (same `attempt`): where it
   * resumes, and the epochs the earlier one finished, which sinks hold already or write again.
   */
  resumed?: ResumedFrom;
}

export interface ResumedFrom {
  /** Finished epochs, and the steps of the epoch after them. */
  epoch: number;
  batch: number;
  epochs: number;
  batches: number;
  history: { epoch: number; metrics: EpochMetrics; at: number }[];
  /** Why this continuation is not bit for bit (the checkpoint came from another machine), when it is not. */
  inexact?: string;
}

/**
 * What a sweep tells its listeners. The fit loop knows nothing of files, MLflow or terminals:
 * stores, loggers and progress renderers implement the hooks they care about.
 */
export interface SweepListener {
  onSweepStart?(sweep: SweepInfo): void | Promise<void>;
  onVariantStart?(info: VariantInfo): void | Promise<void>;
  /**
   * After every optimizer step. `loss` is the batch's loss when the loop read it back at this step
   * (the first step, about once a second, and an epoch's last batch), else undefined: reading it
   * every step would make the engine finish each step before the next is queued.
   */
  onBatchEnd?(info: VariantInfo, epoch: number, batch: number, batches: number, loss: number | undefined): void;
  /** `at`: epoch milliseconds when the epoch ended, the timestamp every sink records. */
  onEpochEnd?(info: VariantInfo, epoch: number, metrics: EpochMetrics, at: number): void | Promise<void>;
  onVariantSkipped?(variant: Variant, reason: string): void | Promise<void>;
  /** Something the user should know about a variant that is not training (yet): another process holds it, say. */
  onVariantNote?(variant: Variant, note: string): void | Promise<void>;
  /** `info` is missing when the variant failed before training started (engine, model or data). */
  onVariantEnd?(variant: Variant, result: VariantResult, info?: VariantInfo): void | Promise<void>;
  onSweepEnd?(sweep: SweepInfo, results: Map<string, VariantResult>): void | Promise<void>;
}

export async function emit<K extends keyof SweepListener>(
  listeners: readonly SweepListener[],
  hook: K,
  ...args: Parameters<NonNullable<SweepListener[K]>>
): Promise<void> {
  for (const l of listeners) await (l[hook] as ((...a: unknown[]) => unknown) | undefined)?.apply(l, args);
}
