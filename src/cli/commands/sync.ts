import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathKind } from '../../data/readers/files.ts';
import { UsageError } from '../../errors.ts';
import { LocalRunStore } from '../../track/local-store.ts';
import { MlflowClient } from '../../track/mlflow/client.ts';
import { resolveTrackingConfig } from '../../track/mlflow/config.ts';
import { readStoredSweep, syncSweep, type StoredSweep } from '../../track/mlflow/sync.ts';
import { loadSpec } from '../../app/load-spec.ts';
import type { Io } from '../io.ts';

/** The stored sweeps a sync argument names: a spec (all its sweeps), an experiment folder, or one sweep folder. */
async function sweepsFor(target: string, runsDir: string): Promise<StoredSweep[]> {
  let dirs: string[];
  if ((await pathKind(target)) !== 'folder') {
    const spec = await loadSpec(target);
    dirs = (await new LocalRunStore(resolve(runsDir)).sweeps(spec.experiment.name)).map((s) => s.dir);
  } else {
    const one = await readStoredSweep(target);
    if (one) return [one];
    dirs = (await readdir(target)).filter((n) => !n.startsWith('.')).map((n) => join(target, n));
  }
  const sweeps: StoredSweep[] = [];
  for (const dir of dirs) {
    const s = await readStoredSweep(dir);
    if (s) sweeps.push(s);
  }
  if (!sweeps.length) throw new UsageError(`sync: nothing stored for ${target} (run the sweep first, or name a folder under ${runsDir})`);
  return sweeps;
}

export async function syncCommand(target: string, opts: { runsDir: string; trackingUri?: string }, io: Io): Promise<number> {
  for (const sweep of await sweepsFor(target, opts.runsDir)) {
    const tracking = resolveTrackingConfig({
      flag: opts.trackingUri,
      spec: sweep.spec?.tracking ?? {},
      specName: sweep.record.experiment,
      env: process.env,
    });
    if (!tracking) throw new UsageError('sync: no MLflow server named: set MLFLOW_TRACKING_URI, pass --tracking-uri, or set tracking.uri in the spec');
    const r = await syncSweep(new MlflowClient(tracking), sweep);
    io.out(`sweep ${sweep.record.sweep} of ${sweep.record.experiment}: ${r.variants} variant(s) checked, ${r.metrics} metric value(s) and ${r.artifacts} file(s) uploaded; ${r.url}`);
    io.out(`  variants side by side: ${r.compareUrl}`);
  }
  return 0;
}
