import { resolve } from 'node:path';
import { variantCharts } from '../report/charts/variant-charts.ts';
import { LocalRunStore, type StoredVariant } from '../track/local-store.ts';
import { MlflowClient } from '../track/mlflow/client.ts';
import { resolveTrackingConfig } from '../track/mlflow/config.ts';
import { MlflowLogger, type LoggerOptions } from '../track/mlflow/logger.ts';
import { provenanceOf } from '../track/provenance.ts';
import { modeFor } from '../train/schedule.ts';
import type { Experiment } from '../spec/types.ts';

/** Where a sweep's results go: the local run store, and MLflow when tracking is configured. */
export interface SweepSinks {
  store: LocalRunStore;
  /** Variants the store already holds as completed, by id. */
  completed: Map<string, StoredVariant>;
  mlflow?: MlflowLogger;
}

export interface SinkOptions extends Pick<LoggerOptions, 'warn' | 'info' | 'syncCommand' | 'extraTags' | 'leaveParentOpen'> {
  specFile: string;
  experiment: Experiment;
  specText: string;
  runsDir: string;
  trackingUri?: string;
}

/** The run store and MLflow logger for a sweep, the same for `run`, array tasks and queue workers. */
export async function openSweepSinks(o: SinkOptions): Promise<SweepSinks> {
  const store = new LocalRunStore(resolve(o.runsDir), { render: variantCharts, provenance: await provenanceOf(o.specFile), note: o.info });
  const completed = await store.completed(o.experiment.name);
  const tracking = resolveTrackingConfig({ flag: o.trackingUri, spec: o.experiment.tracking, specName: o.experiment.name, env: process.env });
  const { metric, mode } = o.experiment.training.objective;
  const mlflow =
    tracking &&
    new MlflowLogger(new MlflowClient(tracking), store, {
      objective: { metric, greaterIsBetter: modeFor(metric, mode) === 'max' },
      specText: o.specText,
      warn: o.warn,
      info: o.info,
      syncCommand: o.syncCommand,
      extraTags: o.extraTags,
      leaveParentOpen: o.leaveParentOpen,
    });
  return { store, completed, mlflow: mlflow || undefined };
}
