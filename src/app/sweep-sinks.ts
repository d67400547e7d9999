import { resolve } from 'node:path';
import { variantCharts } from '../report/charts/variant-charts.ts';
import { LocalRunStore, type StoredVariant } from '../track/local-store.ts';
import { MlflowClient } from '../track/mlflow/client.ts';
import { resolveTrackingConfig } from '../track/mlflow/config.ts';
import { MlflowLogger, type LoggerOptions } from '../track/mlflow/logger.ts';
import { provenanceOf } from '../track/provenance.ts';
import type { LoadedSpec } from './load-spec.ts';

/** Where a sweep's results go: the local run store, and MLflow when tracking is configured. */
export interface SweepSinks {
  store: LocalRunStore;
  /** Variants the store already holds as completed, by id. */
  completed: Map<string, StoredVariant>;
  mlflow?: MlflowLogger;
}

export interface SinkOptions extends Pick<LoggerOptions, 'warn' | 'info' | 'syncCommand' | 'extraTags' | 'leaveParentOpen'> {
  runsDir: string;
  trackingUri?: string;
}

/**
 * The run store and MLflow logger for a sweep, the same for `run`, array tasks and queue workers.
 * MLflow is connected before anything is trained or written: a server that refuses us is a
 * mistake to fix first.
 */
export async function openSweepSinks(spec: LoadedSpec, o: SinkOptions): Promise<SweepSinks> {
  const store = new LocalRunStore(resolve(o.runsDir), { render: variantCharts, provenance: await provenanceOf(spec.file), note: o.info });
  const completed = await store.completed(spec.experiment.name);
  const tracking = resolveTrackingConfig({ flag: o.trackingUri, spec: spec.experiment.tracking, specName: spec.experiment.name, env: process.env });
  const mlflow =
    tracking &&
    new MlflowLogger(new MlflowClient(tracking), store, {
      objective: spec.objective,
      specText: spec.text,
      warn: o.warn,
      info: o.info,
      syncCommand: o.syncCommand,
      extraTags: o.extraTags,
      leaveParentOpen: o.leaveParentOpen,
      register: spec.experiment.register,
    });
  if (spec.experiment.register && !tracking) o.warn(`register: MLflow tracking is off (no --tracking-uri, tracking.uri or MLFLOW_TRACKING_URI), so the best variant will not be registered as "${spec.experiment.register.name}"`);
  if (mlflow) await mlflow.connect();
  return { store, completed, mlflow: mlflow || undefined };
}
