import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TrackingError } from '../../errors.ts';
import type { Variant } from '../../plan/expand.ts';
import type { EpochMetrics, SweepInfo, SweepListener, VariantInfo, VariantResult } from '../../train/events.ts';
import { epochRecord, readStoredVariant, storedVariants, type LocalRunStore, type StoredVariant } from '../local-store.ts';
import { rankByMetric } from '../rank.ts';
import { registerAttempt } from './registry.ts';
import { flattenParams } from '../params.ts';
import type { MlflowClient, RunInfo } from './client.ts';
import type { KeyValue } from './limits.ts';
import { epochMetrics, runParams, STATUS, TAG, variantTags } from './content.ts';
import { describeResumePoint } from '../../train/checkpoint.ts';
import { ensureExperiment, SweepTracker } from './sweep-tracker.ts';
import { keptMetricName } from './metric-names.ts';
import type { Objective } from '../../spec/derived.ts';

export interface LoggerOptions {
  objective: Objective;
  specText: string;
  /** Printed when tracking goes away or comes back. */
  warn(message: string): void;
  info(message: string): void;
  /** The command that uploads what is missing, for the message when the server stayed away. */
  syncCommand: string;
  /** Tags for every child run besides the identifying ones (a queue worker adds its name). */
  extraTags?: KeyValue[];
  /**
   * Leave the parent run open at the sweep's end: a queue worker trains one variant of a sweep
   * whose other variants run elsewhere, so the parent closes when the last of them settles.
   */
  leaveParentOpen?: boolean;
  /** The spec's `register:`: the sweep's best variant becomes a version of this registered model when the sweep ends. */
  register?: { name: string };
}

/**
 * At the end of a run, how long the queue may go without finishing before the server is asked
 * whether it is still there, and how long that question may take. A server that answers keeps
 * its uploads going however long they take; one that does not costs these few seconds, not the
 * minutes its retries would, and `tunespec sync` uploads the rest later.
 */
const END_PATIENCE_SECONDS = 2;
const END_PROBE_SECONDS = 2;

/**
 * Logs a sweep to MLflow as it trains, without ever holding training up: requests go through a
 * background queue, and the local store (written first) stays the record. When the server fails,
 * training goes on; at each variant's end the logger looks for the server again and, when it is
 * back, uploads what it missed with the same idempotent reconciliation `tunespec sync` uses.
 */
export class MlflowLogger implements SweepListener {
  private experimentId?: string;
  private tracker?: SweepTracker;
  private online = false;
  private queue: Promise<void> = Promise.resolve();
  private readonly live = new Map<string, RunInfo>();
  /** For a resumed attempt: the `key@step` metrics its run held already, never logged again. */
  private readonly logged = new Map<string, Set<string>>();
  /** The server stopped answering at the end of the run and its requests were given up: say so once, at the end. */
  private abandoned = false;

  constructor(
    private readonly client: MlflowClient,
    private readonly store: LocalRunStore,
    private readonly opts: LoggerOptions,
  ) {}

  private get uri(): string {
    return this.client.config.uri;
  }

  /**
   * Before training: a server that does not answer is tolerated (training goes on, sync catches
   * up), but one that answers no (bad credentials, a deleted experiment) is a mistake to fix
   * first, not a week of untracked GPU time.
   */
  async connect(): Promise<void> {
    if (!(await this.client.healthy())) {
      this.opts.warn(`MLflow: no answer from ${this.uri}; training goes on and results stay in the local store (${this.opts.syncCommand} uploads them later)`);
      return;
    }
    this.experimentId = await ensureExperiment(this.client, this.client.config.experiment, this.opts.objective);
    this.online = true;
  }

  private enqueue(job: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (!this.online) return;
      try {
        await job();
      } catch (err) {
        this.online = false;
        if (!this.abandoned) this.opts.warn(`MLflow: ${(err as Error).message}; training goes on and results stay in the local store`);
      }
    });
  }

  /**
   * Wait for the queue to empty, as long as the server answers: uploads to a live server may
   * take a while, but a server that has gone away only gets a few seconds before its requests
   * (and their retries) are given up.
   */
  private async drain(): Promise<void> {
    const settled = this.queue.then(() => true);
    while (!(await Promise.race([settled, sleep(END_PATIENCE_SECONDS * 1000, false, { ref: false })]))) {
      if (await this.client.healthy(END_PROBE_SECONDS)) continue;
      this.abandoned = true;
      this.online = false;
      this.client.abandon();
      await settled;
    }
  }

  /** A finished run of this variant on the server: another machine or runs folder trained it. */
  finishedRun(variantId: string): string | undefined {
    const run = this.tracker?.finishedRun(variantId);
    return run && this.experimentId ? this.client.runUrl(this.experimentId, run.run_id) : undefined;
  }

  private async catchUp(): Promise<void> {
    const { dir, record } = this.store.current();
    this.experimentId ??= await ensureExperiment(this.client, this.client.config.experiment, this.opts.objective);
    this.tracker = new SweepTracker(this.client, this.experimentId, record, this.opts.specText);
    await this.tracker.load();
    await this.tracker.ensureParent('RUNNING');
    // A run in its attempt's end state was reconciled whole (the status is set last).
    for (const v of await storedVariants(dir)) if (this.tracker.lacks(v)) await this.tracker.reconcile(v);
  }

  /** One quick look for a server that went away; when it is back, upload everything it missed. */
  private async retryConnection(): Promise<void> {
    if (this.online || !(await this.client.healthy())) return;
    this.online = true;
    try {
      await this.catchUp();
      this.opts.info(`MLflow: ${this.uri} answers again; uploaded what it missed`);
    } catch (err) {
      this.online = false;
      this.opts.warn(`MLflow: ${(err as Error).message}`);
    }
  }

  async onSweepStart(_sweep: SweepInfo): Promise<void> {
    if (!this.online || !this.experimentId) return;
    try {
      const { record } = this.store.current();
      this.tracker = new SweepTracker(this.client, this.experimentId, record, this.opts.specText);
      await this.tracker.load();
      const parent = await this.tracker.ensureParent('RUNNING');
      this.opts.info(`MLflow: logging to ${this.client.runUrl(this.experimentId, parent.run_id)} (experiment: ${this.client.experimentUrl(this.experimentId, { metric: keptMetricName(this.opts.objective.metric), greaterIsBetter: this.opts.objective.greaterIsBetter })})`);
      // Attempts stored while tracking was off or the server away: the sweep would skip them, so
      // upload them now (in the background, like everything else).
      const behind = (await storedVariants(this.store.current().dir)).filter((v) => this.tracker!.lacks(v));
      if (behind.length) {
        const which = behind.map((v) => `${v.status.label} (${v.status.variant}, ${v.status.status})`).join(', ');
        this.opts.info(`MLflow: uploading ${behind.length} attempt(s) from ${this.store.current().dir} that the server lacks: ${which}; a variant skipped below is not retrained, only uploaded`);
      }
      for (const v of behind) this.enqueue(() => this.tracker!.reconcile(v).then(() => undefined));
    } catch (err) {
      if (err instanceof TrackingError && err.status !== undefined && err.status < 500) throw err;
      this.online = false;
      this.opts.warn(`MLflow: ${(err as Error).message}; training goes on and results stay in the local store`);
    }
  }

  onVariantStart(info: VariantInfo): void {
    const { variant } = info;
    this.enqueue(async () => {
      const child = {
        variantId: variant.id,
        attempt: info.attempt,
        runName: variant.label,
        startTime: info.startedAt,
        tags: [...variantTags(this.tracker!.sweep, variant.id, info.attempt, info.engine), ...(this.opts.extraTags ?? [])],
        params: await runParams(flattenParams(variant.spec), this.tracker!.sweep.spec),
      };
      const r = info.resumed;
      if (r) {
        // The same attempt goes on: its run, not a new one, continues at the next step.
        const history = r.history.map((h) => epochRecord(h.epoch, h.metrics, h.at));
        const tags = [{ key: TAG.resumed, value: describeResumePoint(r) }, ...(r.inexact ? [{ key: TAG.resumedInexact, value: r.inexact }] : [])];
        const { run, logged } = await this.tracker!.resumeChild(child, history, tags);
        this.live.set(info.attempt, run);
        this.logged.set(info.attempt, logged);
      } else {
        this.live.set(info.attempt, await this.tracker!.ensureChild(child));
      }
    });
  }

  onEpochEnd(info: VariantInfo, epoch: number, metrics: EpochMetrics, at: number): void {
    this.enqueue(async () => {
      const run = this.live.get(info.attempt);
      if (!run) return; // the server was away when the variant started; its end catches up
      const logged = this.logged.get(info.attempt);
      const fresh = epochMetrics([epochRecord(epoch, metrics, at)]).filter((m) => !logged?.has(`${m.key}@${m.step}`));
      await this.client.logBatch(run.run_id, { metrics: fresh });
    });
  }

  onVariantEnd(variant: Variant, result: VariantResult): void {
    this.queue = this.queue.then(() => this.retryConnection());
    this.enqueue(async () => {
      const run = this.live.get(result.attempt);
      this.live.delete(result.attempt);
      this.logged.delete(result.attempt);
      const stored = await readStoredVariant(join(this.store.current().dir, variant.id));
      if (stored?.status.attempt === result.attempt) {
        await this.tracker!.reconcile(stored);
        // The process that closes a queued sweep and registers its best may hold none of its
        // variants' files, and a generation variant's run has no logged model to register (its
        // merged weights are made into one only on registering): so the worker makes it now.
        if (this.opts.leaveParentOpen && this.opts.register && stored.status.model && stored.status.status === 'completed') await this.tracker!.ensureGenerationModel(stored);
      } else if (run) {
        // The store kept an earlier completed result over this attempt (an interrupted --force):
        // its run still ends in its own state, not RUNNING until some later sweep marks it KILLED.
        if (result.reason) await this.client.logBatch(run.run_id, { tags: [{ key: TAG.reason, value: result.reason }] });
        await this.client.updateRun(run.run_id, STATUS[result.status] ?? 'FAILED', result.finishedAt);
      }
    });
  }

  /**
   * The spec's `register:` at the sweep's end: its best completed variant by the objective, once
   * every variant of the sweep has been trained (here or in an earlier run into this store). A
   * sweep that was interrupted, or of which this process trained a part (`--only`, an array
   * task whose siblings are still training), registers nothing; the last array task does it.
   */
  private async registerBest(name: string, inSweep: StoredVariant[]): Promise<void> {
    const sweep = this.tracker!.sweep;
    const completed = await this.store.completed(sweep.experiment);
    const tried = new Set(inSweep.map((v) => v.status.variant));
    const pending = sweep.variants.filter((v) => !completed.has(v.id) && !tried.has(v.id)).length;
    const interrupted = inSweep.some((v) => v.status.status === 'interrupted');
    if (pending || interrupted) {
      const why = interrupted ? 'the sweep was interrupted' : `${pending} of ${sweep.variants.length} variant(s) are not trained yet`;
      this.opts.info(`MLflow: register: nothing registered as "${name}": ${why}`);
      return;
    }
    const candidates = sweep.variants.flatMap((v) => completed.get(v.id) ?? []);
    const best = rankByMetric(candidates, this.opts.objective.metric, this.opts.objective.greaterIsBetter)[0];
    if (!best) {
      this.opts.info(`MLflow: register: nothing registered as "${name}": no variant completed`);
      return;
    }
    let r;
    try {
      if (best.status.model) await this.tracker!.ensureGenerationModel(best);
      r = await registerAttempt(this.client, this.experimentId!, best.status.attempt, name);
    } catch (err) {
      // The sweep itself is logged; only the registration is left to redo.
      this.opts.warn(`MLflow: register: ${(err as Error).message}; \`tunespec register best --spec <spec> --name ${name}\` tries again`);
      return;
    }
    const what = r.created ? 'registered' : 'was already registered';
    this.opts.info(`MLflow: best variant ${best.status.variant} (${best.status.label}) ${what} as models:/${name}/${r.version.version}: ${r.url}`);
  }

  async onSweepEnd(): Promise<void> {
    this.queue = this.queue.then(() => this.retryConnection());
    this.enqueue(async () => {
      if (this.opts.leaveParentOpen) return;
      const { dir } = this.store.current();
      const variants = await storedVariants(dir);
      const { compareUrl } = await this.tracker!.finishParent(variants, this.opts.objective);
      this.opts.info(`MLflow: sweep logged to ${this.client.runUrl(this.experimentId!, this.tracker!.parent!.run_id)}`);
      this.opts.info(`MLflow: variants side by side at ${compareUrl}`);
      if (this.opts.register) await this.registerBest(this.opts.register.name, variants);
    });
    await this.drain();
    if (!this.online) {
      const what = this.abandoned ? 'stopped answering and did not take' : 'did not take';
      this.opts.warn(`MLflow: ${this.uri} ${what} this sweep's results; run \`${this.opts.syncCommand}\` when it answers`);
    }
  }
}
