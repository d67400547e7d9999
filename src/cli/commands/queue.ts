import type { Queue } from 'bullmq';
import { bullmq } from '../../lazy-package.ts';
import { UsageError } from '../../errors.ts';
import { QueueLineLog, QueueListr } from '../../queue/progress.ts';
import { closeParentIfSettled, openParent, registeredLine, type SweepIdentity } from '../../queue/close-sweep.ts';
import { parseRedisUrl, QUEUE_NAME } from '../../queue/connection.ts';
import { followSweep } from '../../queue/follow.ts';
import type { VariantJob, VariantJobResult } from '../../queue/job.ts';
import { assertReachable } from '../../queue/reach.ts';
import { submitSweep, type RetryPolicy } from '../../queue/submit.ts';
import { sweepJobs } from '../../queue/sweep-jobs.ts';
import { MlflowClient } from '../../track/mlflow/client.ts';
import { resolveTrackingConfig } from '../../track/mlflow/config.ts';
import { provenanceOf } from '../../track/provenance.ts';
import { redactUrl } from '../../net/redact.ts';
import { loadSpec, type LoadedSpec } from '../../app/load-spec.ts';
import type { Io } from '../io.ts';

export interface QueueRunOptions extends RetryPolicy {
  queue: string;
  detach: boolean;
  trackingUri?: string;
}

function trackingFor(spec: LoadedSpec, flag: string | undefined) {
  const config = resolveTrackingConfig({ flag, spec: spec.experiment.tracking, specName: spec.experiment.name, env: process.env });
  return config && { client: new MlflowClient(config), objective: spec.objective };
}

async function identity(spec: LoadedSpec): Promise<SweepIdentity> {
  return { experiment: spec.experiment.name, specFile: spec.file, specText: spec.text, plan: spec.plan, provenance: await provenanceOf(spec.file) };
}

/**
 * Watch the sweep's jobs until they settle, then close its MLflow parent (the last worker does
 * too; whoever comes second changes nothing). Ctrl-C stops watching, not the sweep.
 */
async function watch(spec: LoadedSpec, queue: Queue, shownQueue: string, trackingFlag: string | undefined, io: Io): Promise<number> {
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.on('SIGINT', onSigint);
  try {
    const render = process.stdout.isTTY ? new QueueListr() : new QueueLineLog(io.out);
    const jobs = await followSweep(queue, spec.experiment.name, spec.plan.variants, render, controller.signal);
    if (!jobs) {
      io.err(`stopped watching; the workers go on. \`tunespec status ${spec.file} --queue ${shownQueue}\` watches again`);
      return 130;
    }
    const tracking = trackingFor(spec, trackingFlag);
    if (tracking) {
      try {
        const register = spec.experiment.register;
        const closed = await closeParentIfSettled(tracking.client, await identity(spec), jobs, tracking.objective, register);
        const line = closed && register && registeredLine(closed, register.name);
        if (line) (closed.notRegistered ? io.err : io.out)(line);
      } catch (err) {
        io.err(`MLflow: the sweep's parent run was not closed: ${(err as Error).message}`);
      }
    }
    const count = (s: string): number => jobs.filter((j) => j.state === s).length;
    io.out(`${count('completed')} completed, ${count('failed')} failed${count('missing') ? `, ${count('missing')} not in the queue` : ''}; results in the workers' run stores${tracking ? ' and MLflow' : ''}`);
    return count('failed') || count('missing') ? 1 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function hasCredentials(uri: string): boolean {
  try {
    const u = new URL(uri);
    return Boolean(u.username || u.password);
  } catch {
    return false; // resolveTrackingConfig says what is wrong with it
  }
}

function openQueue(raw: string): { queue: Queue<VariantJob, VariantJobResult>; shown: string; target: ReturnType<typeof parseRedisUrl> } {
  const target = parseRedisUrl(raw);
  return { queue: new (bullmq().Queue)<VariantJob, VariantJobResult>(QUEUE_NAME, { connection: target.connection }), shown: target.shown, target };
}

/** `run <spec> --queue`: queue one job per variant, then watch them (or `--detach`). */
export async function runQueueCommand(file: string, opts: QueueRunOptions, io: Io): Promise<number> {
  const target = parseRedisUrl(opts.queue);
  if (opts.trackingUri && hasCredentials(opts.trackingUri)) {
    throw new UsageError(
      `--tracking-uri ${redactUrl(opts.trackingUri)} carries credentials, and jobs are readable by anyone with access to Redis: ` +
        'give workers MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN instead',
    );
  }
  await assertReachable(target);
  const spec = await loadSpec(file);
  // A server that refuses us (bad credentials, a deleted experiment) stops us before anything is queued.
  const tracking = trackingFor(spec, opts.trackingUri);
  if (tracking) {
    if (await tracking.client.healthy()) {
      const { url } = await openParent(tracking.client, await identity(spec), tracking.objective);
      io.out(`MLflow: workers log to ${url}`);
    } else io.err(`MLflow: no answer from ${tracking.client.config.uri}; queuing anyway (workers log when it answers)`);
  }
  const { queue, shown } = openQueue(opts.queue);
  try {
    const s = await submitSweep(queue, { experiment: spec.experiment.name, specFile: file, specText: spec.text, plan: spec.plan, trackingUri: opts.trackingUri, tracked: Boolean(tracking) }, opts);
    io.out(
      `sweep ${spec.plan.sweepId} of ${spec.experiment.name}: ${s.added} variant(s) queued on ${shown}` +
        `${s.present ? `, ${s.present} already queued or done` : ''}${s.retried ? `, ${s.retried} failed one(s) queued again` : ''}`,
    );
    if (opts.detach) {
      io.out(`detached: \`tunespec status ${file} --queue ${shown}\` watches the sweep`);
      return 0;
    }
    return await watch(spec, queue, shown, opts.trackingUri, io);
  } finally {
    await queue.close();
  }
}

/** `status <spec> --queue`: watch a queued sweep again, from any machine. */
export async function statusCommand(file: string, opts: { queue: string; trackingUri?: string }, io: Io): Promise<number> {
  const target = parseRedisUrl(opts.queue);
  await assertReachable(target);
  const spec = await loadSpec(file);
  const { queue, shown } = openQueue(opts.queue);
  try {
    const jobs = await sweepJobs(queue, spec.experiment.name, spec.plan.variants);
    if (jobs.every((j) => j.state === 'missing')) {
      throw new UsageError(`status: no variant of sweep ${spec.plan.sweepId} (${file}) is in the queue on ${shown}; \`tunespec run ${file} --queue ${shown}\` queues it`);
    }
    return await watch(spec, queue, shown, opts.trackingUri, io);
  } finally {
    await queue.close();
  }
}
