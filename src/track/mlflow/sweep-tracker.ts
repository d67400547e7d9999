import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { filesUnder } from '../files-under.ts';
import { pathKind } from '../../data/readers/files.ts';
import { ensureLoggedModel, runArtifactWanted } from './logged-model.ts';
import { TrackingError } from '../../errors.ts';
import { redactUrlsIn } from '../../net/redact.ts';
import { comparisonTables } from '../comparison.ts';
import { formatOfVariant, readHistory, type EpochRecord, type StoredVariant, type SweepRecord } from '../local-store.ts';
import type { DatasetInput, MlflowClient, Run, RunInfo, RunStatus } from './client.ts';
import { bestMetrics, bestTags, type BestVariant, childContent, epochMetrics, parentNote, parentRunName, provenanceTags, STATUS, sweptAxes, TAG } from './content.ts';
import type { KeyValue, Metric } from './limits.ts';
import { keptMetricName } from './metric-names.ts';
import { rankByMetric } from '../rank.ts';

import type { Objective } from '../../spec/derived.ts';

/** The experiment named `name`, created if missing, with the sweep's objective as its primary metric. */
export async function ensureExperiment(client: MlflowClient, name: string, objective: Objective): Promise<string> {
  let exp = await client.getExperimentByName(name);
  if (exp?.lifecycle_stage === 'deleted') {
    throw new TrackingError(
      `MLflow experiment "${name}" (id ${exp.experiment_id}) exists but is deleted: restore it in the MLflow UI or with ` +
        `\`mlflow experiments restore --experiment-id ${exp.experiment_id}\`, purge it with \`mlflow gc\`, or log elsewhere ` +
        `with tracking.experiment or MLFLOW_EXPERIMENT_NAME`,
    );
  }
  if (!exp) {
    try {
      await client.createExperiment(name);
    } catch (err) {
      // Another process created it between our lookup and our create: theirs is as good as ours.
      if (!(err instanceof TrackingError && err.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw err;
    }
    exp = (await client.getExperimentByName(name))!;
  }
  const wanted: KeyValue[] = [
    { key: 'mlflow.experiment.primaryMetric.name', value: keptMetricName(objective.metric) },
    { key: 'mlflow.experiment.primaryMetric.greaterIsBetter', value: String(objective.greaterIsBetter) },
  ];
  for (const t of wanted) {
    if (exp.tags?.find((x) => x.key === t.key)?.value === t.value) continue;
    try {
      await client.setExperimentTag(exp.experiment_id, t.key, t.value);
    } catch (err) {
      // Processes starting together (array tasks) set the same tag at once, and MLflow's SQL
      // store answers the second insert with a constraint error: fine if the value is ours.
      const now = await client.getExperimentByName(name);
      if (now?.tags?.find((x) => x.key === t.key)?.value !== t.value) throw err;
    }
  }
  return exp.experiment_id;
}

/**
 * Variants of one sweep share their datasets, and MLflow's SQL store creates a dataset on first
 * use: two processes logging the same new dataset at once (array tasks) make the second insert a
 * constraint error. By then the dataset exists, so logging again links it.
 */
async function logInputs(client: MlflowClient, runId: string, inputs: DatasetInput[]): Promise<void> {
  try {
    await client.logInputs(runId, inputs);
  } catch (err) {
    if (!(err instanceof TrackingError) || err.status !== 400 || !/UNIQUE constraint|IntegrityError|Duplicate entry/i.test(err.message)) throw err;
    await new Promise((resolve) => setTimeout(resolve, 200));
    await client.logInputs(runId, inputs);
  }
}

/**
 * The run of one stored attempt in the configured experiment, found by its attempt tag: what
 * `runs` links to and `evaluate` logs to. Undefined when the experiment or the run is not there.
 */
export async function findAttemptRun(client: MlflowClient, attempt: string): Promise<{ runId: string; url: string } | undefined> {
  const experiment = await client.getExperimentByName(client.config.experiment);
  if (!experiment || experiment.lifecycle_stage !== 'active') return undefined;
  const [run] = await client.searchRuns([experiment.experiment_id], `tags.\`${TAG.attempt}\` = '${attempt}'`);
  return run && { runId: run.info.run_id, url: client.runUrl(experiment.experiment_id, run.info.run_id) };
}

/** What identifies and describes the run of one attempt. */
export interface ChildRun {
  variantId: string;
  attempt: string;
  runName: string;
  startTime: number;
  tags: KeyValue[];
  params: KeyValue[];
}

/** When a parent run was created (epoch ms): what decides between duplicates. */
const CREATED = 'tunespec.created_ms';

function tagOf(run: Run, key: string): string | undefined {
  return run.data.tags?.find((t) => t.key === key)?.value;
}

/**
 * One sweep's runs on an MLflow server: a parent run per sweep, a child per variant attempt,
 * found again by tags. Every method is idempotent, so the live logger and `tunespec sync` share
 * it, and a sync after any failure converges on what an undisturbed run would have logged.
 */
export class SweepTracker {
  private runs: Run[] = [];
  parent?: RunInfo;
  /** Whether this process created `parent` (and so may delete it as a duplicate). */
  private ownParent = false;
  /** Whether the parent was checked against duplicates once children could be logged. */
  private parentSettled = false;

  constructor(
    readonly client: MlflowClient,
    readonly experimentId: string,
    readonly sweep: SweepRecord,
    private readonly specText: string,
  ) {}

  /** Every run of this sweep on the server: its parent(s) and children. */
  private sweepRuns(): Promise<Run[]> {
    return this.client.searchRuns([this.experimentId], `tags.\`${TAG.sweep}\` = '${this.sweep.sweep}'`);
  }

  async load(): Promise<void> {
    this.runs = await this.sweepRuns();
    this.parent = this.runs.find((r) => tagOf(r, TAG.kind) === 'sweep')?.info;
  }

  private children(variantId: string): Run[] {
    return this.runs.filter((r) => tagOf(r, TAG.kind) === 'variant' && tagOf(r, TAG.variant) === variantId);
  }

  /** Whether the server's run of this stored attempt is missing or not yet in the attempt's end state. */
  lacks(v: StoredVariant): boolean {
    const run = this.children(v.status.variant).find((r) => tagOf(r, TAG.attempt) === v.status.attempt);
    return !run || run.info.status !== STATUS[v.status.status];
  }

  /** A finished run of this variant already on the server, if any. */
  finishedRun(variantId: string): RunInfo | undefined {
    return this.children(variantId).find((r) => r.info.status === 'FINISHED')?.info;
  }

  async ensureParent(status: RunStatus = 'RUNNING'): Promise<RunInfo> {
    if (!this.parent) {
      this.parent = await this.client.createRun({
        experimentId: this.experimentId,
        runName: parentRunName(this.sweep),
        startTime: Date.parse(this.sweep.started),
        userId: this.sweep.provenance?.user,
        tags: [
          { key: TAG.kind, value: 'sweep' },
          { key: TAG.sweep, value: this.sweep.sweep },
          { key: CREATED, value: String(Date.now()) },
          ...provenanceTags(this.sweep.provenance),
        ],
      });
      this.ownParent = true;
      this.runs.push({ info: this.parent, data: { tags: [{ key: TAG.kind, value: 'sweep' }] } });
    } else if (this.parent.status !== status) {
      await this.client.updateRun(this.parent.run_id, status);
    }
    this.parent.status = status;
    return this.parent;
  }

  /**
   * Processes that start the same sweep together (array-job tasks) may each find no parent and
   * create one. Before the first child is logged, every process looks again and keeps the
   * earliest created (by the creation stamp, then id; parents without one predate it); a process
   * whose own parent lost deletes it. Children are logged well after parents are created (the
   * model is built in between), so by then every process sees every parent.
   */
  private async settleParent(): Promise<void> {
    if (this.parentSettled || !this.parent) return;
    this.parentSettled = true;
    const parents = (await this.sweepRuns()).filter((r) => tagOf(r, TAG.kind) === 'sweep');
    const order = (r: Run): number => Number(tagOf(r, CREATED) ?? 0);
    const [first] = parents.sort((a, b) => order(a) - order(b) || a.info.run_id.localeCompare(b.info.run_id));
    if (!first || first.info.run_id === this.parent.run_id) return;
    if (this.ownParent) await this.client.deleteRun(this.parent.run_id);
    this.runs = this.runs.filter((r) => r.info.run_id !== this.parent!.run_id);
    if (!this.runs.some((r) => r.info.run_id === first.info.run_id)) this.runs.push(first);
    this.parent = first.info;
    this.ownParent = false;
  }

  /** The swept values, one param per axis, so sweeps can be told apart in the runs table. */
  private parentParams(): KeyValue[] {
    const axes = sweptAxes(this.sweep).map(([path, values]) => ({ key: `sweep.${path}`, value: values.join(',') }));
    return [{ key: 'variants', value: String(this.sweep.variants.length) }, ...axes];
  }

  /** Runs of this variant left RUNNING by an attempt other than `attempt` died with their process. */
  async killStale(variantId: string, attempt: string): Promise<void> {
    for (const r of this.children(variantId)) {
      if (r.info.status === 'RUNNING' && tagOf(r, TAG.attempt) !== attempt) {
        await this.client.updateRun(r.info.run_id, 'KILLED', Date.now());
        r.info.status = 'KILLED';
      }
    }
  }

  /** The run of one attempt, created (with its identifying tags and params) if the server lacks it. */
  async ensureChild(c: ChildRun): Promise<RunInfo> {
    const existing = this.children(c.variantId).find((r) => tagOf(r, TAG.attempt) === c.attempt);
    if (existing) return existing.info;
    await this.killStale(c.variantId, c.attempt);
    await this.settleParent();
    const parent = await this.ensureParent(this.parent?.status);
    const info = await this.client.createRun({
      experimentId: this.experimentId,
      runName: c.runName,
      startTime: c.startTime,
      userId: this.sweep.provenance?.user,
      tags: [{ key: TAG.parent, value: parent.run_id }, ...c.tags],
    });
    await this.client.logBatch(info.run_id, { params: c.params });
    this.runs.push({ info, data: { tags: c.tags, params: c.params } });
    return info;
  }

  /**
   * The run of an attempt resumed from a checkpoint: RUNNING again (a KILLED one comes back), no
   * longer tagged with why it stopped, and holding the epochs the checkpoint holds. Answers the
   * `key@step` pairs the server holds, so the resumed attempt logs none of them twice.
   */
  async resumeChild(c: ChildRun, history: EpochRecord[], tags: KeyValue[]): Promise<{ run: RunInfo; logged: Set<string> }> {
    const run = await this.ensureChild(c);
    const record = this.runs.find((r) => r.info.run_id === run.run_id);
    if (tagOf(record ?? { info: run, data: {} }, TAG.reason)) await this.client.deleteTag(run.run_id, TAG.reason);
    if (run.status !== 'RUNNING') await this.client.updateRun(run.run_id, 'RUNNING');
    run.status = 'RUNNING';
    await this.client.logBatch(run.run_id, { tags });
    const metrics = epochMetrics(history);
    const logged = new Set<string>();
    const keys = new Set([...metrics.map((m) => m.key), ...(record?.data.metrics ?? []).map((m) => m.key)]);
    for (const key of keys) for (const m of await this.client.getMetricHistory(run.run_id, key)) logged.add(`${key}@${m.step}`);
    const missing = metrics.filter((m) => !logged.has(`${m.key}@${m.step}`));
    await this.client.logBatch(run.run_id, { metrics: missing });
    for (const m of missing) logged.add(`${m.key}@${m.step}`);
    return { run, logged };
  }

  /** Make the server hold everything the local store holds for this attempt; upload only what is missing. */
  async reconcile(v: StoredVariant): Promise<{ metrics: number; artifacts: number }> {
    const history = await readHistory(v.dir, formatOfVariant(v));
    const content = await childContent(v, this.sweep, history);
    const run = await this.ensureChild({ variantId: v.status.variant, attempt: v.status.attempt, ...content });
    // MLflow refuses to change a param; a run logged by an older tunespec keeps the params it has.
    const record = this.runs.find((r) => r.info.run_id === run.run_id)!;
    const present = new Set(record.data.params?.map((p) => p.key));
    const params = content.params.filter((p) => !present.has(p.key));
    await this.client.logBatch(run.run_id, { params, tags: content.tags });
    record.data.params = [...(record.data.params ?? []), ...params];
    if (content.inputs.length) await logInputs(this.client, run.run_id, content.inputs);
    const missing = await this.missingMetrics(run.run_id, content.metrics, (m) => m.step);
    await this.client.logBatch(run.run_id, { metrics: missing });
    const uploaded = await this.uploadMissing(run, v.dir, await runArtifactWanted(v));
    // A generation variant's logged model carries its whole merged model (hundreds of MB): it is
    // made when the variant is registered (ensureGenerationModel), not for every variant.
    if (v.status.status === 'completed' && (await pathKind(join(v.dir, 'model', 'model.json')))) {
      await ensureLoggedModel(this.client, this.experimentId, run, v, content);
    }
    if (run.status !== content.status) await this.client.updateRun(run.run_id, content.status, content.endTime);
    run.status = content.status;
    return { metrics: missing.length, artifacts: uploaded };
  }

  /**
   * The metrics a run lacks, compared key by key with what it holds by `identity`. Keys of an
   * older tunespec (`val_accuracy`, `final/*`) are left where they are: MLflow cannot delete a
   * metric, and the new names are added beside them.
   */
  private async missingMetrics(runId: string, metrics: Metric[], identity: (m: Metric) => number): Promise<Metric[]> {
    const missing: Metric[] = [];
    for (const key of new Set(metrics.map((m) => m.key))) {
      const logged = new Set((await this.client.getMetricHistory(runId, key)).map(identity));
      missing.push(...metrics.filter((m) => m.key === key && !logged.has(identity(m))));
    }
    return missing;
  }

  /**
   * A completed generation variant's logged model (its merged Hugging Face folder whole, its
   * adapter, record and spec), made if the server lacks it: what registering it points at.
   */
  async ensureGenerationModel(v: StoredVariant): Promise<void> {
    const history = await readHistory(v.dir, formatOfVariant(v));
    const content = await childContent(v, this.sweep, history);
    const run = await this.ensureChild({ variantId: v.status.variant, attempt: v.status.attempt, ...content });
    await ensureLoggedModel(this.client, this.experimentId, run, v, content);
  }

  private async uploadMissing(run: RunInfo, dir: string, wanted: (file: string) => boolean): Promise<number> {
    const present = new Map((await this.client.listAllArtifacts(run.run_id)).map((f) => [f.path, f.file_size]));
    let uploaded = 0;
    for (const file of (await filesUnder(dir)).filter(wanted)) {
      const data = await readFile(join(dir, file));
      if (present.get(file) === data.byteLength) continue;
      await this.client.uploadArtifact(run.artifact_uri, file, data);
      uploaded++;
    }
    return uploaded;
  }

  /**
   * The parent's comparison table, and its end state once the sweep process ended: KILLED when
   * interrupted, FAILED when a variant failed, FINISHED otherwise. A sweep that never ended
   * (running elsewhere, or killed) keeps its status: a sync cannot tell which. Answers where
   * the UI compares the sweep's variants side by side, best first.
   */
  async finishParent(variants: StoredVariant[], objective: Objective): Promise<{ compareUrl: string }> {
    const parent = await this.ensureParent(this.parent?.status);
    const runOf = (v: StoredVariant): Run | undefined => this.children(v.status.variant).find((r) => tagOf(r, TAG.attempt) === v.status.attempt);
    // Variants another process logged (array tasks, queue workers) since this one looked.
    if (variants.some((v) => !runOf(v))) {
      const known = new Set(this.runs.map((r) => r.info.run_id));
      this.runs.push(...(await this.sweepRuns()).filter((r) => !known.has(r.info.run_id)));
    }
    const link = (v: StoredVariant): string | undefined => {
      const run = runOf(v);
      return run && this.client.runUrl(this.experimentId, run.info.run_id);
    };
    const overrides = new Map(this.sweep.variants.map((v) => [v.id, v.overrides]));
    const { csv, markdown } = comparisonTables(variants, objective.metric, objective.greaterIsBetter, link, overrides);
    const [first] = rankByMetric(variants, objective.metric, objective.greaterIsBetter).filter((v) => v.result?.metrics[objective.metric] !== undefined);
    const score = first?.result?.metrics[objective.metric];
    const best: BestVariant | undefined = score === undefined ? undefined : { variant: first, score, runId: runOf(first)?.info.run_id, url: link(first) };
    await this.client.logBatch(parent.run_id, { params: this.parentParams() });
    await this.client.uploadArtifact(parent.artifact_uri, 'spec.yaml', Buffer.from(redactUrlsIn(this.specText)));
    await this.client.uploadArtifact(parent.artifact_uri, 'comparison.csv', Buffer.from(csv));
    await this.client.uploadArtifact(parent.artifact_uri, 'comparison.md', Buffer.from(markdown));
    const note = parentNote(this.sweep, objective.metric, best, variants.map((v) => v.status.status));
    await this.client.logBatch(parent.run_id, { tags: [{ key: 'mlflow.note.content', value: note }, ...(best ? bestTags(best, this.sweep) : [])] });
    if (best) await this.client.logBatch(parent.run_id, { metrics: await this.missingMetrics(parent.run_id, bestMetrics(best, objective), (m) => m.value) });
    const ranked = rankByMetric(variants, objective.metric, objective.greaterIsBetter).flatMap((v) => runOf(v)?.info.run_id ?? []);
    const compareUrl = this.client.compareUrl(this.experimentId, ranked);
    if (!this.sweep.finished) return { compareUrl };
    const statuses = variants.map((v) => STATUS[v.status.status]);
    const status: RunStatus = statuses.includes('KILLED') ? 'KILLED' : statuses.includes('FAILED') ? 'FAILED' : 'FINISHED';
    await this.client.updateRun(parent.run_id, status, Date.parse(this.sweep.finished));
    parent.status = status;
    return { compareUrl };
  }
}
