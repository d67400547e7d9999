import type { EngineRequest } from '../engine/backends.ts';
import type { FrozenFeatureCache } from '../engine/feature-cache.ts';
import { storeForOneOfMany } from '../track/one-of-many.ts';
import type { SweepListener, VariantResult } from '../train/events.ts';
import { runSweep } from '../train/sweep.ts';
import type { LoadedSpec } from './load-spec.ts';
import type { SweepSinks } from './sweep-sinks.ts';

export interface TrainOptions {
  /** Variant ids to train; empty trains the whole plan. */
  only: readonly string[];
  engine: EngineRequest;
  signal: AbortSignal;
  /** Retrain variants the store or MLflow already holds as finished. Undefined: the caller offers no `--force`, so skip reasons do not mention it. */
  force?: boolean;
  /** Train variants from scratch, discarding the checkpoints an interrupted attempt left, instead of resuming. */
  restart?: boolean;
  /**
   * This process trains part of a sweep others train too (array tasks, queue workers): the store
   * records the whole plan. `endsSweep`: whether this process may mark the sweep ended.
   */
  oneOfMany?: { endsSweep: boolean };
  featureCache?: FrozenFeatureCache;
  /** Progress renderers and the like, after the store and MLflow. */
  listeners: readonly SweepListener[];
}

/**
 * Train variants of a loaded spec into its opened sinks: the one training loop of `run`, its
 * array tasks (`--index`) and queue workers. A variant already finished in the store or MLflow
 * is skipped unless forced; one that stopped short resumes from its checkpoint unless `restart`.
 */
export async function trainVariants(spec: LoadedSpec, sinks: SweepSinks, o: TrainOptions): Promise<Map<string, VariantResult>> {
  const { store, completed, mlflow } = sinks;
  const retrains = o.force === undefined ? '' : ' (--force retrains)';
  const storeView = o.oneOfMany ? storeForOneOfMany(store, spec.plan, o.oneOfMany.endsSweep) : store;
  return runSweep(
    { experiment: spec.experiment.name, specFile: spec.file, specText: spec.text, dir: spec.dir, plan: spec.plan, model: spec.model },
    {
      engine: o.engine,
      only: o.only,
      signal: o.signal,
      // Two terminals, array tasks and queue workers on one run store: one process trains a variant at a time.
      claims: store,
      restart: o.restart,
      featureCache: o.featureCache,
      skipReason: async (v) => {
        if (o.force) return undefined;
        const done = completed.get(v.id);
        if (done) return `already completed in ${done.dir}${retrains}`;
        const tracked = mlflow?.finishedRun(v.id);
        return tracked ? `already finished in MLflow run ${tracked}${retrains}` : undefined;
      },
    },
    [storeView, ...(mlflow ? [mlflow] : []), ...o.listeners],
  ).catch(async (err: unknown) => {
    // The tracker refused the sweep before a variant ran (say, no permission to create runs).
    await store.discardIfEmpty();
    throw err;
  });
}
