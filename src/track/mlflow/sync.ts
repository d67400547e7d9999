import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseStoredSpec } from '../../spec/stored.ts';
import { objectiveOf } from '../../spec/derived.ts';
import type { Experiment } from '../../spec/types.ts';
import { DEFAULT_OBJECTIVE_METRIC } from '../../spec/schema.ts';
import { readSweepRecord, storedVariants, type StoredVariant, type SweepRecord } from '../local-store.ts';
import type { MlflowClient } from './client.ts';
import { ensureExperiment, SweepTracker } from './sweep-tracker.ts';
import type { Objective } from '../../spec/derived.ts';

export interface StoredSweep {
  dir: string;
  record: SweepRecord;
  specText: string;
  /** The sweep's spec as it was when the sweep ran (with schema defaults), or undefined if unreadable. */
  spec?: Experiment;
}

export async function readStoredSweep(dir: string): Promise<StoredSweep | undefined> {
  const record = await readSweepRecord(dir);
  if (!record) return undefined;
  const specText = await readFile(join(dir, 'spec.yaml'), 'utf8').catch(() => '');
  return { dir, record, specText, spec: parseStoredSpec(specText) };
}

/** A sweep's objective; the schema's default one when its stored spec is unreadable. */
function storedObjective(spec: Experiment | undefined): Objective {
  return objectiveOf(spec?.training.objective ?? { metric: DEFAULT_OBJECTIVE_METRIC });
}

export interface SyncReport {
  variants: number;
  metrics: number;
  artifacts: number;
  url: string;
  compareUrl: string;
}

/** Upload what the server lacks of one stored sweep; running it twice uploads nothing the second time. */
export async function syncSweep(client: MlflowClient, sweep: StoredSweep): Promise<SyncReport> {
  const objective = storedObjective(sweep.spec);
  const experimentId = await ensureExperiment(client, client.config.experiment, objective);
  const tracker = new SweepTracker(client, experimentId, sweep.record, sweep.specText);
  await tracker.load();
  const variants = await storedVariants(sweep.dir);
  const report = { variants: variants.length, metrics: 0, artifacts: 0, url: '', compareUrl: '' };
  for (const v of variants) {
    const r = await tracker.reconcile(v);
    report.metrics += r.metrics;
    report.artifacts += r.artifacts;
  }
  report.compareUrl = (await tracker.finishParent(variants, objective)).compareUrl;
  report.url = client.runUrl(experimentId, tracker.parent!.run_id);
  return report;
}

/** A stored generation variant's logged model on the server (made if missing), in its sweep's experiment: what registering it needs. */
export async function ensureGenerationModel(client: MlflowClient, sweep: StoredSweep, v: StoredVariant): Promise<void> {
  const experimentId = await ensureExperiment(client, client.config.experiment, storedObjective(sweep.spec));
  const tracker = new SweepTracker(client, experimentId, sweep.record, sweep.specText);
  await tracker.load();
  await tracker.ensureGenerationModel(v);
}
