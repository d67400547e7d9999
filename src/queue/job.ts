import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Plan, Variant } from '../plan/expand.ts';

/**
 * What a queued variant carries: where its sources are and what they must hash to. Workers read
 * the spec, base model and data from the same paths (a shared file system) or URLs; they never
 * receive file contents through Redis. Credentials never go in here: workers take MLflow
 * credentials from their own environment.
 */
export interface QueuedVariant {
  id: string;
  index: number;
  label: string;
  overrides: Record<string, unknown>;
}

export interface VariantJob {
  experiment: string;
  /** Absolute path of the spec on the submitting machine: shared storage makes it the same everywhere. */
  spec: string;
  /** sha256 of the spec text the submitter planned from. */
  specSha256: string;
  sweepId: string;
  /** Every variant of the sweep, so whoever settles the last one can close the sweep's MLflow parent run. */
  sweepVariants: QueuedVariant[];
  variant: QueuedVariant;
  /** `--tracking-uri` of the submitter, without credentials; workers otherwise use the spec's or their own. */
  trackingUri?: string;
  /** Whether the submitter tracks the sweep in MLflow (it opened the parent run); absent in jobs queued by older versions. */
  tracked?: boolean;
}

/** What a worker reports when a variant ended: enough to rank it without the worker's run store. */
export interface VariantJobResult {
  status: 'completed' | 'skipped';
  reason?: string;
  worker: string;
  attempt: string;
  seconds: number;
  started: string;
  finished: string;
  metrics?: Record<string, number>;
}

/** Progress a worker publishes after each epoch (BullMQ's job progress). */
export interface VariantJobProgress {
  worker: string;
  epoch: number;
  epochs: number;
  metrics: Record<string, number>;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * One id per variant of one experiment: enqueuing a sweep twice adds nothing. The experiment name
 * is part of it because variant ids leave cosmetic fields (the name among them) out; BullMQ also
 * refuses ids that parse as integers, which a hex variant id alone could.
 */
export function jobIdOf(experiment: string, variantId: string): string {
  return `${experiment}/${variantId}`;
}

export function variantJob(o: { experiment: string; specFile: string; specText: string; plan: Plan; variant: Variant; trackingUri?: string; tracked: boolean }): VariantJob {
  const { id, index, label, overrides } = o.variant;
  return {
    experiment: o.experiment,
    spec: resolve(o.specFile),
    specSha256: sha256(o.specText),
    sweepId: o.plan.sweepId,
    sweepVariants: o.plan.variants.map((v) => ({ id: v.id, index: v.index, label: v.label, overrides: v.overrides })),
    variant: { id, index, label, overrides },
    trackingUri: o.trackingUri,
    tracked: o.tracked,
  };
}
