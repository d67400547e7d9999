import { readParams, type EpochRecord, type StoredVariant, type SweepRecord } from '../local-store.ts';
import type { Provenance } from '../provenance.ts';
import type { DatasetInput, RunStatus } from './client.ts';
import { LIMITS, type KeyValue, type Metric } from './limits.ts';

/** Tag keys of our own; the `mlflow.*` ones are what the MLflow UI reads. */
export const TAG = {
  kind: 'tunespec.kind',
  sweep: 'tunespec.sweep_id',
  variant: 'tunespec.variant_id',
  attempt: 'tunespec.attempt',
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

/** What a finished sweep's parent run says in its description. */
export function parentNote(sweep: SweepRecord, comparisonMarkdown: string): string {
  const commit = sweep.provenance?.git ? ` at commit \`${sweep.provenance.git.commit.slice(0, 12)}\`${sweep.provenance.git.dirty ? ' (uncommitted changes)' : ''}` : '';
  return `Sweep \`${sweep.sweep}\` of **${sweep.experiment}** from \`${sweep.provenance?.source ?? sweep.spec}\`${commit}: ${sweep.variants.length} variant(s).\n\n${comparisonMarkdown}`;
}

/** Each swept path with its values in grid order, as params print them. */
export function sweptAxes(sweep: SweepRecord): [string, string[]][] {
  const axes = new Map<string, string[]>();
  for (const v of sweep.variants) {
    for (const [path, value] of Object.entries(v.overrides ?? {})) {
      const text = value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value);
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
    Object.entries(values).map(([key, value]) => ({ key, value: value as number, timestamp, step: epoch })),
  );
}

function noteFor(v: StoredVariant, sweep: SweepRecord): string {
  const s = v.status;
  const lines = [`**${s.label}**: variant \`${s.variant}\` of sweep \`${sweep.sweep}\`, ${s.status} in ${s.seconds.toFixed(1)} s.`];
  if (s.reason) lines.push('', `Reason: ${s.reason}`);
  const m = v.result?.metrics;
  if (m) {
    lines.push('', '| metric | value |', '|---|---|');
    for (const [k, x] of Object.entries(m)) lines.push(`| ${k} | ${Number.isInteger(x) ? x : x.toFixed(4)} |`);
  }
  if (s.engine) lines.push('', `Engine: ${s.engine.name} ${s.engine.version} (${s.engine.reason}).`);
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
export function variantTags(sweep: SweepRecord, variantId: string, attempt: string, engine?: { name: string; version: string }): KeyValue[] {
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
      { key: 'tunespec.engine.version', value: engine.version },
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
  const summary: Metric[] = Object.entries(v.result?.metrics ?? {}).map(([k, value]) => ({ key: `final/${k}`, value, timestamp: endTime, step: 0 }));
  summary.push({ key: 'final/seconds', value: s.seconds, timestamp: endTime, step: 0 });
  const at = (key: string, value: number): Metric => ({ key, value, timestamp: endTime, step: 0 });
  const cache = s.featureCache;
  if (cache && cache.status !== 'off') {
    summary.push(at('feature_cache/hit', cache.status === 'hit' ? 1 : 0), at('feature_cache/seconds', cache.seconds ?? 0), at('feature_cache/saved_seconds', cache.savedSeconds ?? 0));
  }
  if (s.onnx?.parity) summary.push(at('onnx/max_abs_diff', s.onnx.parity.maxAbsDiff), at('onnx/argmax_agreement', s.onnx.parity.argmaxAgreement));
  const tags = [...variantTags(sweep, s.variant, s.attempt, s.engine), { key: 'mlflow.note.content', value: noteFor(v, sweep) }];
  if (s.reason) tags.push({ key: 'tunespec.reason', value: s.reason });
  if (s.featureCache) tags.push({ key: 'tunespec.feature_cache', value: `${s.featureCache.status}: ${s.featureCache.detail}` });
  if (s.onnx) tags.push({ key: 'tunespec.onnx', value: s.onnx.parity ? 'exported' : (s.onnx.skipped ?? 'not exported') });
  return {
    runName: s.label,
    startTime: Date.parse(s.started),
    endTime,
    status: STATUS[s.status] ?? 'FAILED',
    tags,
    params: Object.entries(params).map(([key, value]) => ({ key, value })),
    metrics: [...epochMetrics(history), ...summary],
    inputs: datasets(v, sweep, dataSource),
  };
}
