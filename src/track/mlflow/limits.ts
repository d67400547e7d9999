/** MLflow's own limits (mlflow/utils/validation.py): a request past them is refused whole. */
export const LIMITS = {
  metricsPerBatch: 1000,
  paramsPerBatch: 100,
  tagsPerBatch: 100,
  itemsPerBatch: 1000,
  paramValue: 6000,
  tagValue: 8000,
  key: 250,
  datasetDigest: 36,
} as const;

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface KeyValue {
  key: string;
  value: string;
}

/** What goes over the wire: protobuf's JSON mapping spells non-finite doubles as strings. */
export interface WireMetric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
}

export interface Batch {
  metrics: WireMetric[];
  params: KeyValue[];
  tags: KeyValue[];
}

/**
 * Keys may hold letters, digits, `_ - . /` and spaces, up to 250 characters, and must be clean
 * relative paths (no `//`, `.` or `..` segments, no leading or trailing `/`): the server refuses
 * anything else, and with it the whole batch. Colons are replaced too: Windows servers refuse them.
 */
export function sanitizeKey(key: string): string {
  const clean = (k: string): string =>
    k
      .replace(/[^\p{L}\p{N}_\-. /]/gu, '_')
      .split('/')
      .filter((seg) => seg !== '' && seg !== '.' && seg !== '..')
      .join('/');
  return clean(clean(key).slice(0, LIMITS.key)) || '_';
}

export function wireValue(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

/** The server truncates too long values itself, but then a re-log differs from what we hold; truncate the same way first. */
function clip(value: string, limit: number): string {
  return value.length <= limit ? value : value.slice(0, limit);
}

/**
 * Split metrics, params and tags into `runs/log-batch` bodies that each respect MLflow's limits.
 * Params and tags share a batch with metrics, as the Python client packs them.
 */
export function packBatches(metrics: readonly Metric[], params: readonly KeyValue[], tags: readonly KeyValue[]): Batch[] {
  const queue = {
    metrics: metrics.map((m) => ({ key: sanitizeKey(m.key), value: wireValue(m.value), timestamp: Math.round(m.timestamp), step: Math.round(m.step) })),
    params: params.map((p) => ({ key: sanitizeKey(p.key), value: clip(p.value, LIMITS.paramValue) })),
    tags: tags.map((t) => ({ key: sanitizeKey(t.key), value: clip(t.value, LIMITS.tagValue) })),
  };
  const batches: Batch[] = [];
  while (queue.metrics.length || queue.params.length || queue.tags.length) {
    const p = queue.params.splice(0, LIMITS.paramsPerBatch);
    const t = queue.tags.splice(0, LIMITS.tagsPerBatch);
    const room = Math.min(LIMITS.metricsPerBatch, LIMITS.itemsPerBatch - p.length - t.length);
    batches.push({ metrics: queue.metrics.splice(0, room), params: p, tags: t });
  }
  return batches;
}
