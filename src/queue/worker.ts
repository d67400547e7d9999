import type { Job, Queue } from 'bullmq';
import { bullmq } from '../lazy-package.ts';
import { readFile } from 'node:fs/promises';
import { TunespecError } from '../errors.ts';
import { MlflowClient } from '../track/mlflow/client.ts';
import { resolveTrackingConfig } from '../track/mlflow/config.ts';
import { parseStoredSpec } from '../spec/stored.ts';
import { objectiveOf } from '../spec/derived.ts';
import type { EpochMetrics, SweepListener, VariantInfo } from '../train/events.ts';
import { closeParentIfSettled, registeredLine } from './close-sweep.ts';
import { scoresText } from './progress.ts';
import { QUEUE_NAME, type RedisTarget } from './connection.ts';
import { sha256, type VariantJob, type VariantJobProgress, type VariantJobResult } from './job.ts';
import { sweepJobs } from './sweep-jobs.ts';
import { SourceMismatch, trainJob, type WorkerSetup } from './train-job.ts';

export interface WorkerOptions extends WorkerSetup {
  target: RedisTarget;
  /** How long a job's lock lasts without renewal (a live worker renews it at half that). */
  lockDurationMs: number;
  /** How often this worker looks for jobs whose worker died (their lock expired). */
  stalledIntervalMs: number;
  signal: AbortSignal;
}

/**
 * How often a variant may lose its worker (kill -9, a machine that died) before it fails for good:
 * a variant that kills every worker that takes it (out of memory, say) must not do so forever.
 */
export const MAX_STALLS = 3;

/** Publishes each epoch as the job's progress, which `run` and `status` show live. */
function progressTo(job: Job, worker: string, warn: (l: string) => void): SweepListener {
  const publish = (p: VariantJobProgress): void => {
    job.updateProgress(p as unknown as object).catch((err: Error) => warn(`worker ${worker}: progress of ${job.id} not published: ${err.message}`));
  };
  return {
    onVariantStart: (i: VariantInfo) => publish({ worker, epoch: 0, epochs: i.variant.spec.training.epochs, metrics: {} }),
    onEpochEnd: (i: VariantInfo, epoch: number, metrics: EpochMetrics) => publish({ worker, epoch: epoch + 1, epochs: i.variant.spec.training.epochs, metrics }),
  };
}

/**
 * Trains queued variants one at a time (seeded randomness and the TensorFlow.js engine are
 * process-wide, so one process trains one variant at a time; `--concurrency` starts more
 * processes). Resolves when the signal aborts and the current job went back to the queue.
 */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const { Queue, UnrecoverableError, WaitingError, Worker } = bullmq();
  const say = (line: string): void => opts.info(`[${opts.name}] ${line}`);
  let current: AbortController | undefined;
  const processor = async (job: Job<VariantJob, VariantJobResult>, token?: string): Promise<VariantJobResult> => {
    const d = job.data;
    say(`${job.id}: ${d.variant.label} (variant ${d.variant.index} of sweep ${d.sweepId}), attempt ${job.attemptsMade + 1}/${job.opts.attempts ?? 1}${job.stalledCounter ? `, after ${job.stalledCounter} lost worker(s)` : ''}`);
    current = new AbortController();
    const stop = (): void => current?.abort();
    opts.signal.addEventListener('abort', stop);
    try {
      const { result, metrics } = await trainJob(d, opts, current.signal, progressTo(job, opts.name, opts.warn));
      if (result.status === 'interrupted') {
        // This worker is shutting down: hand the variant back untouched for another worker.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (result.status === 'failed') {
        say(`${job.id}: failed: ${result.reason}`);
        const message = `worker ${opts.name}: ${result.reason}`;
        throw result.deterministic ? new UnrecoverableError(`${message} (deterministic: not retried)`) : new Error(message);
      }
      say(`${job.id}: ${result.status}${result.reason ? ` (${result.reason})` : ''}${metrics ? `, ${scoresText(metrics)}` : ''}`);
      return {
        status: result.status === 'skipped' ? 'skipped' : 'completed',
        reason: result.reason,
        worker: opts.name,
        attempt: result.attempt,
        seconds: result.seconds,
        started: new Date(result.startedAt || Date.now()).toISOString(),
        finished: new Date(result.finishedAt || Date.now()).toISOString(),
        metrics,
      };
    } catch (err) {
      if (err instanceof TunespecError) say(`${job.id}: ${err.message}`);
      throw err;
    } finally {
      opts.signal.removeEventListener('abort', stop);
      current = undefined;
    }
  };

  const worker = new Worker<VariantJob, VariantJobResult>(QUEUE_NAME, processor, {
    connection: opts.target.connection,
    concurrency: 1,
    name: opts.name,
    lockDuration: opts.lockDurationMs,
    stalledInterval: opts.stalledIntervalMs,
    maxStalledCount: MAX_STALLS,
    autorun: false,
  });
  const queue = new Queue<VariantJob, VariantJobResult>(QUEUE_NAME, { connection: opts.target.connection });
  worker.on('error', (err) => opts.warn(`[${opts.name}] queue: ${err.message}`));
  worker.on('stalled', (id) => say(`${id}: its worker stopped answering; back in the queue for another worker`));
  const settled = async (job: Job<VariantJob, VariantJobResult> | undefined): Promise<void> => {
    if (!job) return;
    try {
      await closeSweepFromWorker(queue, job.data, opts);
    } catch (err) {
      opts.warn(`[${opts.name}] MLflow: the parent run of sweep ${job.data.sweepId} was not closed: ${(err as Error).message}`);
    }
  };
  worker.on('completed', (job) => void settled(job));
  worker.on('failed', (job) => void (job && job.finishedOn ? settled(job) : undefined));

  await worker.waitUntilReady();
  say(`waiting for variants on ${opts.target.shown} (queue "${QUEUE_NAME}"), run store ${opts.runsDir}`);
  const running = worker.run();
  await new Promise<void>((resolve) => (opts.signal.aborted ? resolve() : opts.signal.addEventListener('abort', () => resolve(), { once: true })));
  say('stopping: the current variant goes back to the queue');
  await worker.close();
  await running;
  await queue.close();
}

/**
 * After a job settled for good: when it was the sweep's last, close the sweep's MLflow parent run.
 * A tracked sweep whose spec this machine cannot read as queued is an error (the caller warns: the
 * parent would stay RUNNING until a `tunespec sync` of a store that holds the sweep closes it).
 */
async function closeSweepFromWorker(queue: Queue, d: VariantJob, opts: WorkerOptions): Promise<void> {
  const text = await readFile(d.spec, 'utf8').catch(() => undefined);
  const queued = text !== undefined && sha256(text) === d.specSha256;
  const spec = queued ? parseStoredSpec(text) : undefined;
  if (!spec) {
    // Without the queued spec its own tracking section is unknown here: the submitter said whether it tracks.
    if (d.tracked === false) return;
    const why = text === undefined ? 'is unreadable' : queued ? 'is no longer a valid spec' : 'is not the spec the sweep was queued from';
    throw new SourceMismatch(`${d.spec} ${why} on this machine; \`tunespec sync\` of a run store that holds the sweep closes the parent`);
  }
  const tracking = resolveTrackingConfig({ flag: d.trackingUri ?? opts.trackingUri, spec: spec.tracking, specName: spec.name, env: process.env });
  if (!tracking) return; // untracked: there is no parent run
  // The plan as the job records it: labels and overrides for the parent's params and table.
  const variants = d.sweepVariants.map((v) => ({ ...v, spec }));
  const jobs = await sweepJobs(queue, d.experiment, variants);
  // Not the sweep's last job: the worker that settles the last one closes the parent.
  if (!jobs.every((j) => j.state === 'completed' || j.state === 'failed')) return;
  const closed = await closeParentIfSettled(
    new MlflowClient(tracking),
    { experiment: d.experiment, specFile: d.spec, specText: text!, plan: { sweepId: d.sweepId, variants } },
    jobs,
    objectiveOf(spec.training.objective),
    spec.register,
  );
  if (!closed) return;
  opts.info(`[${opts.name}] sweep ${d.sweepId}: every variant settled; MLflow parent run closed`);
  const line = spec.register && registeredLine(closed, spec.register.name);
  if (line) (closed.notRegistered ? opts.warn : opts.info)(`[${opts.name}] ${line}`);
}
