import { join, resolve } from 'node:path';
import { latestAttempt, LocalRunStore, type StoredVariant } from '../../track/local-store.ts';
import { MlflowClient } from '../../track/mlflow/client.ts';
import { resolveTrackingConfig } from '../../track/mlflow/config.ts';
import { findAttemptRun } from '../../track/mlflow/sweep-tracker.ts';
import { rankByMetric } from '../../track/rank.ts';
import { fixed, formatTable } from '../../report/table.ts';
import { loadSpec, type LoadedSpec } from '../../app/load-spec.ts';
import type { Io } from '../io.ts';
import { formatBytes } from '../../net/download-progress.ts';
import { taskOf } from '../../spec/derived.ts';

/** The MLflow run of a stored attempt, when tracking is configured and the server answers; never fails the listing. */
async function trackedUrl(spec: LoadedSpec, stored: StoredVariant, trackingUri: string | undefined): Promise<string | undefined> {
  const config = resolveTrackingConfig({ flag: trackingUri, spec: spec.experiment.tracking, specName: spec.experiment.name, env: process.env });
  if (!config) return undefined;
  const client = new MlflowClient({ ...config, retry: { ...config.retry, maxRetries: 0, timeoutSeconds: 10 } });
  try {
    if (!(await client.healthy())) return `(MLflow at ${config.uri} does not answer)`;
    const run = await findAttemptRun(client, stored.status.attempt);
    return run?.url ?? `(not in MLflow at ${config.uri}; tunespec sync uploads it)`;
  } catch (err) {
    return `(MLflow: ${(err as Error).message})`;
  }
}

/** The spec's current variants with their latest stored attempt, best first by the objective. */
export async function runsCommand(file: string, opts: { runsDir: string; trackingUri?: string }, io: Io): Promise<number> {
  const spec = await loadSpec(file);
  const store = new LocalRunStore(resolve(opts.runsDir));
  const stored = await store.list(spec.experiment.name);
  const { metric, greaterIsBetter } = spec.objective;
  // What an interrupted or killed variant would resume from, and what it costs on disk.
  const checkpoints = new Map<string, string>();
  for (const v of spec.plan.variants) {
    const c = await store.checkpointSize(spec.experiment.name, v.id);
    if (c.newest !== undefined) checkpoints.set(v.id, `step ${c.newest}, ${formatBytes(c.bytes)}`);
  }
  const rows = rankByMetric(
    spec.plan.variants.map((v) => {
      const s = latestAttempt(stored, v.id);
      return { v, s, result: s?.status.status === 'completed' ? s.result : undefined };
    }),
    metric,
    greaterIsBetter,
  );
  const generation = taskOf(spec.experiment) === 'generation';
  const scores = [metric, ...['val_loss', generation ? 'val_perplexity' : 'val_accuracy'].filter((m) => m !== metric)];
  io.out(
    formatTable(
      ['variant', 'swept', 'status', ...scores, 'epoch', 'seconds', ...(checkpoints.size ? ['checkpoint'] : [])],
      rows.map(({ v, s, result }) => [
        v.id,
        v.label,
        s?.status.status ?? 'not run',
        ...scores.map((m) => fixed(result?.metrics[m])),
        result?.metrics.kept_epoch ?? '-',
        s ? s.status.seconds.toFixed(1) : '-',
        ...(checkpoints.size ? [checkpoints.get(v.id) ?? '-'] : []),
      ]),
    ),
  );
  const best = rows[0];
  if (best?.result && best.s && generation) {
    // As hosted fine-tuning prints FINE_TUNED_MODEL: the name to ask for.
    io.out(`\nbest: ${best.v.id} (${best.v.label}) ${metric} ${fixed(best.result.metrics[metric])}`);
    if (best.s.status.model) {
      io.out(`fine-tuned model: ${best.s.status.model.name}`);
      io.out(`folder: ${join(best.s.dir, best.s.status.model.folder)}`);
      io.out(`use it: tunespec generate ${best.s.status.model.name} "<prompt>"`);
    }
    const url = await trackedUrl(spec, best.s, opts.trackingUri);
    if (url) io.out(`MLflow: ${url}`);
  } else if (best?.result && best.s) {
    io.out(`\nbest: ${best.v.id} (${best.v.label}) ${metric} ${fixed(best.result.metrics[metric])}`);
    io.out(`model: ${join(best.s.dir, 'model', 'model.json')}`);
    const url = await trackedUrl(spec, best.s, opts.trackingUri);
    if (url) io.out(`MLflow: ${url}`);
    const inputs = spec.experiment.data.format === 'text' ? '"some text" … | texts.csv' : '<images…>';
    io.out(`use it: tunespec predict best --spec ${file} ${inputs}`);
  }
  return 0;
}
