import type { EngineRequest } from '../../engine/backends.ts';
import { ListrProgress } from '../../report/listr-progress.ts';
import { LineLog } from '../../report/line-log.ts';
import type { SweepListener, VariantInfo } from '../../train/events.ts';
import type { FeatureCacheReport } from '../../train/frozen-features.ts';
import { UsageError, formatWarning } from '../../errors.ts';
import { loadSpec } from '../../app/load-spec.ts';
import { openSweepSinks } from '../../app/sweep-sinks.ts';
import { trainVariants } from '../../app/train-variants.ts';
import { FrozenFeatureCache } from '../../engine/feature-cache.ts';
import type { Io } from '../io.ts';
import { variantAtIndex } from '../../plan/index-of.ts';

export interface RunOptions {
  only: string[];
  backend: EngineRequest;
  force: boolean;
  /** Train interrupted variants from scratch instead of resuming them from their checkpoints. */
  restart?: boolean;
  runsDir: string;
  trackingUri?: string;
  featureCache: boolean;
  /** Run exactly the variant at this position of the plan (array jobs: `--index "$SLURM_ARRAY_TASK_ID"`). */
  index?: number;
}

/** Collects each variant's feature-cache outcome for the sweep's closing line. */
class CacheReports implements SweepListener {
  readonly reports: FeatureCacheReport[] = [];
  onVariantStart(info: VariantInfo): void {
    this.reports.push(info.featureCache);
  }
}

function cacheSummary({ reports }: CacheReports): string | undefined {
  const used = reports.filter((r) => r.status !== 'off');
  if (!used.length) return undefined;
  const hits = used.filter((r) => r.status === 'hit');
  const saved = hits.reduce((s, r) => s + (r.savedSeconds ?? 0), 0);
  const spent = used.reduce((s, r) => s + (r.seconds ?? 0), 0);
  return `feature cache: ${hits.length} hit(s), ${used.length - hits.length} miss(es); ${spent.toFixed(1)}s computing features, ${saved.toFixed(1)}s saved`;
}

export async function runCommand(file: string, opts: RunOptions, io: Io): Promise<number> {
  const spec = await loadSpec(file);
  for (const w of spec.warnings) io.err(formatWarning(w));
  if (opts.index !== undefined) opts = { ...opts, only: [variantAtIndex(spec.plan, opts.index, file).id] };
  const unknown = opts.only.filter((id) => !spec.plan.variants.some((v) => v.id === id));
  if (unknown.length) {
    throw new UsageError(`--only: no variant ${unknown.join(', ')} in this plan; run \`tunespec plan ${file}\` to list them`);
  }
  const sinks = await openSweepSinks(spec, {
    runsDir: opts.runsDir,
    trackingUri: opts.trackingUri,
    warn: io.err,
    info: io.out,
    syncCommand: `tunespec sync ${file}`,
  });
  const progress: SweepListener = process.stdout.isTTY ? new ListrProgress() : new LineLog(io.out);
  const cacheReports = new CacheReports();
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    io.err('interrupt: finishing the current batch, then stopping (Ctrl-C again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const results = await trainVariants(spec, sinks, {
      only: opts.only,
      engine: opts.backend,
      signal: controller.signal,
      force: opts.force,
      restart: opts.restart,
      oneOfMany: opts.index === undefined ? undefined : { endsSweep: true },
      featureCache: opts.featureCache ? FrozenFeatureCache.fromEnv() : undefined,
      listeners: [progress, cacheReports],
    });
    const statuses = [...results.values()].map((r) => r.status);
    const count = (s: string): number => statuses.filter((x) => x === s).length;
    const cache = cacheSummary(cacheReports);
    if (cache) io.out(cache);
    io.out(
      `${count('completed')} completed, ${count('skipped')} skipped, ${count('failed')} failed, ${count('interrupted')} interrupted; ` +
        `runs in ${sinks.store.experimentDir(spec.experiment.name)}`,
    );
    if (count('interrupted')) return 130;
    return count('failed') ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
