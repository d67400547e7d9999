import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SpecError, TunespecError } from '../errors.ts';
import type { EngineRequest } from '../engine/backends.ts';
import type { Variant } from '../plan/expand.ts';
import { readStoredVariant } from '../track/local-store.ts';
import type { SweepListener, VariantResult } from '../train/events.ts';
import { trainVariants } from '../app/train-variants.ts';
import { FrozenFeatureCache } from '../engine/feature-cache.ts';
import { loadSpec, type LoadedSpec } from '../app/load-spec.ts';
import { openSweepSinks } from '../app/sweep-sinks.ts';
import { sha256, type VariantJob } from './job.ts';

/** A worker whose copy of the sources does not match the submitter's: another worker may have the right files. */
export class SourceMismatch extends TunespecError {
  constructor(message: string) {
    super('QUEUE_SOURCES', message);
  }
}

export interface WorkerSetup {
  name: string;
  runsDir: string;
  backend: EngineRequest;
  trackingUri?: string;
  warn(line: string): void;
  info(line: string): void;
}

const SHARED = 'workers read specs, base models and data from paths every machine shares (or URLs); see README "Scaling out"';

/**
 * The spec the job was planned from, read from this machine's files and checked against the job:
 * same text (sha256), and the variant id in this machine's plan, which hashes the base model's
 * weights and the data files. Any difference fails the job here rather than training something else.
 */
export async function loadJobSpec(job: VariantJob, worker: string): Promise<{ spec: LoadedSpec; variant: Variant }> {
  const text = await readFile(job.spec, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new SourceMismatch(`worker ${worker}: cannot read the spec ${job.spec} (${err.code ?? err.message}); ${SHARED}`);
  });
  if (sha256(text) !== job.specSha256) {
    throw new SourceMismatch(`worker ${worker}: ${job.spec} differs from the spec the sweep was queued from (sha256 ${sha256(text).slice(0, 12)}, queued ${job.specSha256.slice(0, 12)}); ${SHARED}`);
  }
  let spec: LoadedSpec;
  try {
    spec = await loadSpec(job.spec);
  } catch (err) {
    const detail = err instanceof SpecError ? `\n${err.message}` : `: ${(err as Error).message}`;
    throw new SourceMismatch(`worker ${worker}: the spec ${job.spec} does not check out on this machine (its base model or data differ or are missing)${detail}`);
  }
  const variant = spec.plan.variants.find((v) => v.id === job.variant.id);
  if (!variant || spec.plan.sweepId !== job.sweepId) {
    throw new SourceMismatch(
      `worker ${worker}: variant ${job.variant.id} (${job.variant.label}) is not in this machine's plan of ${job.spec}: ` +
        `its base model or data files differ from the submitter's (variant ids hash their bytes); ${SHARED}`,
    );
  }
  return { spec, variant };
}

export interface TrainedJob {
  result: VariantResult;
  /** Final metrics of the stored attempt (also for a variant skipped because it was already done here). */
  metrics?: Record<string, number>;
}

/**
 * Train one queued variant the way `tunespec run` would: into this worker's run store and, when
 * tracking is configured, MLflow, skipping a variant already completed in either. The store
 * records the whole sweep's variant list, so a later `tunespec sync` of this store matches the
 * parent run the submitter opened.
 */
export async function trainJob(
  job: VariantJob,
  setup: WorkerSetup,
  signal: AbortSignal,
  progress: SweepListener,
): Promise<TrainedJob> {
  const { spec, variant } = await loadJobSpec(job, setup.name);
  const sinks = await openSweepSinks(spec, {
    runsDir: setup.runsDir,
    trackingUri: job.trackingUri ?? setup.trackingUri,
    warn: setup.warn,
    info: setup.info,
    syncCommand: `tunespec sync ${job.spec} --runs-dir ${setup.runsDir}`,
    extraTags: [{ key: 'tunespec.worker', value: setup.name }],
    leaveParentOpen: true,
  });
  const results = await trainVariants(spec, sinks, {
    only: [variant.id],
    engine: setup.backend,
    signal,
    // A worker never sees the sweep's other variants, so it may not mark the sweep ended.
    oneOfMany: { endsSweep: false },
    // Variants of one sweep on one machine share frozen features, as they do in a local run.
    featureCache: FrozenFeatureCache.fromEnv(),
    listeners: [progress, { onVariantNote: (v, note) => setup.info(`[${setup.name}] ${v.label} (${v.id}): ${note}`) }],
  });
  const result = results.get(variant.id)!;
  // Skipped: done here before this job started, or by another process while it waited for the variant's lock.
  const stored =
    result.status === 'skipped'
      ? (sinks.completed.get(variant.id) ?? (await sinks.store.completedSince(spec.experiment.name, variant.id, 0)))
      : await readStoredVariant(resolve(sinks.store.current().dir, variant.id));
  return { result, metrics: stored?.result?.metrics };
}
