import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkStructure } from '../../spec/structure.ts';
import { modeFor } from '../../train/schedule.ts';
import { readSweepRecord, storedVariants, type SweepRecord } from '../local-store.ts';
import type { MlflowClient } from './client.ts';
import { ensureExperiment, SweepTracker, type Objective } from './sweep-tracker.ts';

export interface StoredSweep {
  dir: string;
  record: SweepRecord;
  specText: string;
  /** The sweep's spec as it was when the sweep ran (with schema defaults), or undefined if unreadable. */
  spec?: ReturnType<typeof checkStructure>['spec'];
}

export async function readStoredSweep(dir: string): Promise<StoredSweep | undefined> {
  const record = await readSweepRecord(dir);
  if (!record) return undefined;
  const specText = await readFile(join(dir, 'spec.yaml'), 'utf8').catch(() => '');
  let spec;
  try {
    spec = checkStructure(parse(specText)).spec;
  } catch {
    spec = undefined;
  }
  return { dir, record, specText, spec };
}

export function objectiveOf(spec: StoredSweep['spec']): Objective {
  const objective = spec?.training.objective ?? { metric: 'val_accuracy' as const, mode: undefined };
  return { metric: objective.metric, greaterIsBetter: modeFor(objective.metric, objective.mode) === 'max' };
}

export interface SyncReport {
  variants: number;
  metrics: number;
  artifacts: number;
  url: string;
}

/** Upload what the server lacks of one stored sweep; running it twice uploads nothing the second time. */
export async function syncSweep(client: MlflowClient, sweep: StoredSweep): Promise<SyncReport> {
  const objective = objectiveOf(sweep.spec);
  const experimentId = await ensureExperiment(client, client.config.experiment, objective);
  const tracker = new SweepTracker(client, experimentId, sweep.record, sweep.specText);
  await tracker.load();
  const variants = await storedVariants(sweep.dir);
  const report = { variants: variants.length, metrics: 0, artifacts: 0, url: '' };
  for (const v of variants) {
    const r = await tracker.reconcile(v);
    report.metrics += r.metrics;
    report.artifacts += r.artifacts;
  }
  await tracker.finishParent(variants, objective);
  report.url = client.runUrl(experimentId, tracker.parent!.run_id);
  return report;
}
