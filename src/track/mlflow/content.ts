import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readParams, type EpochRecord, type StoredVariant, type SweepRecord } from '../local-store.ts';
import type { Provenance } from '../provenance.ts';
import type { DatasetInput, RunStatus } from './client.ts';
import { LIMITS, type KeyValue, type Metric } from './limits.ts';
import { LOGGED_IMAGES_TAG } from './images.ts';
import { COMPLETIONS_FILE } from '../../train/generation-files.ts';
import { bestMetricName, keptMetricName, mlflowMetricName, resultMetricName } from './metric-names.ts';

/** The tag mlflow.log_table sets: the run's table artifacts, which the UI renders as tables. */
export const LOGGED_ARTIFACTS_TAG = 'mlflow.loggedArtifacts';

/** Tag keys of our own; the `mlflow.*` ones are what the MLflow UI reads. */
export const TAG = {
  kind: 'tunespec.kind',
  sweep: 'tunespec.sweep_id',
  variant: 'tunespec.variant_id',
  attempt: 'tunespec.attempt',
  /** Why an attempt stopped short (failed, interrupted). */
  reason: 'tunespec.reason',
  /** Where an attempt resumed from a checkpoint (its latest resume). */
  resumed: 'tunespec.resumed',
  /** Set once an attempt resumed from another machine's checkpoint on an engine whose arithmetic depends on the machine. */
  resumedInexact: 'tunespec.resumed_inexact',
  parent: 'mlflow.parentRunId',
} as const;

export const STATUS: Record<string, RunStatus> = { completed: 'FINISHED', failed: 'FAILED', interrupted: 'KILLED' };

export function provenanceTags(p: Provenance | undefined): KeyValue[] {
  if (!p) return [];
  const tags: KeyValue[] = [
    { key: 'mlflow.source.name', value: p.source },
    { key: 'mlflow.source.type', value: 'LOCAL' },
    { key: 'mlflow.user', value: p.user },
  ];
  if (p.git) {
    tags.push({ key: 'mlflow.source.git.commit', value: p.git.commit }, { key: 'tunespec.git.dirty', value: String(p.git.dirty) });
    if (p.git.branch) tags.push({ key: 'mlflow.source.git.branch', value: p.git.branch });
    if (p.git.repoURL) tags.push({ key: 'mlflow.source.git.repoURL', value: p.git.repoURL });
  }
  return tags;
}

/** A sweep's winner, as its parent run names it. */
export interface BestVariant {
  variant: StoredVariant;
  /** Its score on the objective (the kept weights'). */
  score: number;
  runId?: string;
  url?: string;
}

/**
 * What a sweep's parent run says in its description: short enough for the runs table's preview
 * (the winner and its score first); every variant, best first, is in comparison.md.
 */
export function parentNote(sweep: SweepRecord, metric: string, best: BestVariant | undefined, outcomes: string[]): string {
  const commit = sweep.provenance?.git ? ` at commit \`${sweep.provenance.git.commit.slice(0, 12)}\`${sweep.provenance.git.dirty ? ' (uncommitted changes)' : ''}` : '';
  const counts = [...new Set(outcomes)].map((o) => `${outcomes.filter((x) => x === o).length} ${o}`).join(', ');
  const head = best
    ? `Best: **${best.url ? `[${best.variant.status.label}](${best.url})` : best.variant.status.label}**, ${keptMetricName(metric)} ${best.score.toFixed(4)} (kept epoch ${best.variant.result?.metrics.kept_epoch ?? '?'}), of ${sweep.variants.length} variant(s).`
    : `No variant has a ${keptMetricName(metric)} yet, of ${sweep.variants.length} variant(s).`;
  return `${head}\n\nSweep \`${sweep.sweep}\` of **${sweep.experiment}** from \`${sweep.provenance?.source ?? sweep.spec}\`${commit}; ${counts || 'nothing stored yet'}. All variants, best first: \`comparison.md\`.`;
}

/** The winner's values as parent tags: its run (a link in the UI's search: `tags.best_run_id`), its name and its swept values. */
export function bestTags(best: BestVariant, sweep: SweepRecord): KeyValue[] {
  const s = best.variant.status;
  const tags: KeyValue[] = [
    { key: 'best_variant', value: s.label },
    { key: 'best_variant_id', value: s.variant },
  ];
  if (best.runId) tags.push({ key: 'best_run_id', value: best.runId });
  const overrides = sweep.variants.find((x) => x.id === s.variant)?.overrides ?? {};
  for (const [path, value] of Object.entries(overrides)) tags.push({ key: `best.${path}`, value: valueText(value) });
  return tags;
}

/**
 * The winner's scores as parent metrics (`best/val/accuracy`, `best/kept_epoch`), and the
 * experiment's primary metric (`kept/val/accuracy`) too, so the runs table sorts sweeps by their
 * winners and the chart view has something to show before a parent is expanded.
 */
export function bestMetrics(best: BestVariant, objective: { metric: string }): Metric[] {
  const timestamp = Date.now();
  const at = (key: string, value: number): Metric => ({ key, value, timestamp, step: 0 });
  const { kept_epoch: kept, epochs_run: _ran, ...scores } = best.variant.result?.metrics ?? {};
  const out = Object.entries(scores).map(([k, value]) => at(bestMetricName(k), value));
  if (kept !== undefined) out.push(at('best/kept_epoch', kept));
  out.push(at(keptMetricName(objective.metric), best.score));
  return out;
}

const valueText = (value: unknown): string => (value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value));

/** Each swept path with its values in grid order, as params print them. */
export function sweptAxes(sweep: SweepRecord): [string, string[]][] {
  const axes = new Map<string, string[]>();
  for (const v of sweep.variants) {
    for (const [path, value] of Object.entries(v.overrides ?? {})) {
      const text = valueText(value);
      if (!axes.get(path)?.includes(text)) axes.set(path, [...(axes.get(path) ?? []), text]);
    }
  }
  return [...axes];
}

/** A readable parent run name: each swept field (its last path segment) and how many values it takes. */
export function parentRunName(sweep: SweepRecord): string {
  const axes = sweptAxes(sweep);
  if (!axes.length) return 'sweep: single variant';
  return `sweep: ${axes.map(([path, values]) => `${path.split('.').pop()}×${values.length}`).join(', ')}`;
}

export interface ChildContent {
  runName: string;
  startTime: number;
  endTime: number;
  status: RunStatus;
  tags: KeyValue[];
  params: KeyValue[];
  metrics: Metric[];
  inputs: DatasetInput[];
}

/** Epoch records as MLflow metrics, with the epoch number as the step. */
export function epochMetrics(history: EpochRecord[]): Metric[] {
  return history.flatMap(({ epoch, timestamp, ...values }) =>
    Object.entries(values).map(([key, value]) => ({ key: mlflowMetricName(key), value: value as number, timestamp, step: epoch })),
  );
}

/**
 * What a variant's run says once it ended. Its score is the kept weights' (`kept/val/accuracy`),
 * logged at the kept epoch's step, so it sits on the learning curve where it was reached and is
 * the run's latest value of that key; diagnostics go at the last step trained.
 */
function summaryMetrics(v: StoredVariant, history: EpochRecord[]): Metric[] {
  const s = v.status;
  const timestamp = Date.parse(s.finished);
  const metrics = v.result?.metrics ?? {};
  const last = metrics.epochs_run ?? history.at(-1)?.epoch ?? 0;
  const at = (step: number) => (key: string, value: number): Metric => ({ key, value, timestamp, step });
  const diag = at(last);
  const out = Object.entries(metrics).map(([k, value]) => at(k === 'epochs_run' ? last : (metrics.kept_epoch ?? last))(resultMetricName(k), value));
  out.push(diag('diag/seconds', s.seconds));
  const cache = s.featureCache;
  if (cache && cache.status !== 'off') {
    out.push(diag('diag/feature_cache/hit', cache.status === 'hit' ? 1 : 0), diag('diag/feature_cache/seconds', cache.seconds ?? 0), diag('diag/feature_cache/saved_seconds', cache.savedSeconds ?? 0));
  }
  const p = s.onnx?.parity;
  // JSON holds a NaN difference as null (read back as NaN); a field the record leaves out is not
  // logged. Of the two checks (every row after the boundary, the whole model on the first rows),
  // the worse: one figure to sort runs by.
  if (p?.maxAbsDiff !== undefined) out.push(diag('diag/onnx/max_abs_diff', Math.max(p.maxAbsDiff ?? NaN, p.whole ? (p.whole.maxAbsDiff ?? NaN) : 0)));
  if (p?.argmaxAgreement !== undefined) out.push(diag('diag/onnx/argmax_agreement', Math.min(p.argmaxAgreement ?? NaN, p.whole ? (p.whole.argmaxAgreement ?? NaN) : 1)));
  return out;
}

/** Params that name a file or folder the spec reads: a relative path means nothing on the server. */
const SOURCE_PARAMS = new Set(['base_model.source', 'data.images', 'data.labels', 'data.path']);

const digests = new Map<string, Promise<string>>();

function fileDigest(file: string): Promise<string> {
  if (!digests.has(file)) digests.set(file, readFile(file).then((b) => createHash('sha256').update(b).digest('hex')));
  return digests.get(file)!;
}

/**
 * A source as the server should show it: a URL as recorded (already without its secrets), a
 * file as its name and content digest (`images.gz#sha256=…`, the bytes that trained, wherever
 * they lived), a folder as its absolute file:// URI.
 */
async function sourceParam(value: string, specDir: string): Promise<string> {
  if (/^[a-z][a-z0-9+.-]*:/i.test(value)) return value;
  const full = resolve(specDir, value);
  const kind = await stat(full).then((s) => (s.isFile() ? 'file' : 'folder'), () => 'missing');
  return kind === 'file' ? `${basename(full)}#sha256=${await fileDigest(full)}` : pathToFileURL(full).href;
}

/** A variant's stored params as its MLflow run shows them (see SOURCE_PARAMS). */
export async function runParams(params: Record<string, string>, specFile: string): Promise<KeyValue[]> {
  const specDir = dirname(resolve(specFile));
  return Promise.all(Object.entries(params).map(async ([key, value]) => ({ key, value: SOURCE_PARAMS.has(key) ? await sourceParam(value, specDir) : value })));
}

function noteFor(v: StoredVariant, sweep: SweepRecord): string {
  const s = v.status;
  const lines = [`**${s.label}**: variant \`${s.variant}\` of sweep \`${sweep.sweep}\`, ${s.status} in ${s.seconds.toFixed(1)} s.`];
  if (s.reason) lines.push('', `Reason: ${s.reason}`);
  const m = v.result?.metrics;
  if (m) {
    lines.push('', '| metric | value |', '|---|---|');
    for (const [k, x] of Object.entries(m)) lines.push(`| ${resultMetricName(k)} | ${Number.isInteger(x) ? x : x.toFixed(4)} |`);
  }
  // MLflow's markdown turns `@scope/package` into a user mention; as code it reads as a package.
  if (s.engine) lines.push('', `Engine: ${s.engine.name} ${s.engine.version} (${(s.engine.reason ?? "").replace(/@[\w./-]+/g, (p) => `\`${p}\``)}).`);
  if (s.split) lines.push(`Split: ${s.split.train} train / ${s.split.validation} validation, digest \`${s.split.digest.slice(0, 12)}\`.`);
  return lines.join('\n');
}

function datasets(v: StoredVariant, sweep: SweepRecord, source: string): DatasetInput[] {
  const s = v.status;
  if (!s.data || !s.split) return [];
  const context = (c: string): KeyValue[] => [{ key: 'mlflow.data.context', value: c }];
  const schema = JSON.stringify({ class_names: s.data.classNames });
  return [
    {
      tags: context('training'),
      dataset: { name: `${sweep.experiment}-data`, digest: s.data.digest.slice(0, LIMITS.datasetDigest), source_type: 'local', source: JSON.stringify({ uri: source }), schema },
    },
    {
      tags: context('validation'),
      dataset: {
        name: `${sweep.experiment}-split`,
        digest: s.split.digest.slice(0, LIMITS.datasetDigest),
        source_type: 'local',
        source: JSON.stringify({ uri: source, split: 'validation' }),
        profile: JSON.stringify({ train: s.split.train, validation: s.split.validation }),
      },
    },
  ];
}

/** The tags that identify a variant's run (the parent link is the tracker's to add). */
export function variantTags(sweep: SweepRecord, variantId: string, attempt: string, engine?: { name: string; version?: string }): KeyValue[] {
  const tags: KeyValue[] = [
    { key: TAG.kind, value: 'variant' },
    { key: TAG.sweep, value: sweep.sweep },
    { key: TAG.variant, value: variantId },
    { key: TAG.attempt, value: attempt },
    ...provenanceTags(sweep.provenance),
  ];
  if (engine) {
    tags.push(
      { key: 'tunespec.engine', value: engine.name },
      // The schema lets a stored record leave the version out; a tag without a value is no tag.
      ...(engine.version === undefined ? [] : [{ key: 'tunespec.engine.version', value: engine.version }]),
      { key: 'tunespec.device', value: engine.name === 'native-gpu' ? 'gpu' : 'cpu' },
    );
  }
  return tags;
}

/** Everything a variant's MLflow run holds, read from its folder in the local run store. */
export async function childContent(v: StoredVariant, sweep: SweepRecord, history: EpochRecord[]): Promise<ChildContent> {
  const s = v.status;
  const params = await readParams(v);
  const dataSource = params['data.images'] ?? params['data.path'] ?? '';
  const endTime = Date.parse(s.finished);
  const tags = [...variantTags(sweep, s.variant, s.attempt, s.engine), { key: 'mlflow.note.content', value: noteFor(v, sweep) }];
  if (s.reason) tags.push({ key: TAG.reason, value: s.reason });
  if (s.featureCache) tags.push({ key: 'tunespec.feature_cache', value: `${s.featureCache.status}: ${s.featureCache.detail}` });
  if (s.onnx) tags.push({ key: 'tunespec.onnx', value: s.onnx.parity ? 'exported' : (s.onnx.skipped ?? 'not exported') });
  if (await stat(join(v.dir, 'images')).then((x) => x.isDirectory(), () => false)) tags.push({ key: LOGGED_IMAGES_TAG, value: 'True' });
  // What mlflow.log_table records, so the UI's artifact and evaluation views show completions.json as a table.
  if (await stat(join(v.dir, COMPLETIONS_FILE)).then((x) => x.isFile(), () => false)) tags.push({ key: LOGGED_ARTIFACTS_TAG, value: JSON.stringify([{ path: COMPLETIONS_FILE, type: 'table' }]) });
  if (s.model) tags.push({ key: 'tunespec.model', value: s.model.name });
  return {
    runName: s.label,
    startTime: Date.parse(s.started),
    endTime,
    status: STATUS[s.status] ?? 'FAILED',
    tags,
    params: await runParams(params, sweep.spec),
    metrics: [...epochMetrics(history), ...summaryMetrics(v, history)],
    inputs: datasets(v, sweep, dataSource),
  };
}
