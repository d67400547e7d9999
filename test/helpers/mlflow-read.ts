/** Read an experiment back through MLflow's REST API with plain fetch, independent of tunespec's client. */

export interface ReadRun {
  id: string;
  name: string;
  status: string;
  startTime: number;
  endTime?: number;
  artifactUri: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  inputs: { tags: { key: string; value: string }[]; dataset: { name: string; digest: string } }[];
  /** Full history per metric key, ordered by step. */
  history: Record<string, { step: number; value: number; timestamp: number }[]>;
  artifacts: { path: string; size: number }[];
}

export function authHeaders(auth?: { username: string; password: string }): Record<string, string> {
  return auth ? { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } : {};
}

/**
 * spawnSync blocks this process's event loop while the CLI runs, so a pooled keep-alive socket the
 * server closed meanwhile is only found dead on its next use; on a loaded machine the next socket
 * can meet the same fate. Connection failures (never HTTP errors) are retried a few times.
 */
export async function send(url: string, init: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (err) {
      if (attempt === 4) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

async function api<T>(uri: string, path: string, init: RequestInit = {}, auth?: { username: string; password: string }): Promise<T> {
  const res = await send(`${uri}/api/2.0/mlflow/${path}`, { ...init, headers: { 'Content-Type': 'application/json', ...authHeaders(auth) } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

type Raw = { info: Record<string, unknown>; data: { params?: { key: string; value: string }[]; tags?: { key: string; value: string }[]; metrics?: { key: string }[] }; inputs?: { dataset_inputs?: ReadRun['inputs'] } };

async function artifactsOf(uri: string, runId: string, path: string | undefined, auth?: { username: string; password: string }): Promise<{ path: string; size: number }[]> {
  const q = new URLSearchParams({ run_id: runId, ...(path ? { path } : {}) });
  const r = await api<{ files?: { path: string; is_dir: boolean; file_size?: number }[] }>(uri, `artifacts/list?${q}`, {}, auth);
  const out: { path: string; size: number }[] = [];
  for (const f of r.files ?? []) {
    if (f.is_dir) out.push(...(await artifactsOf(uri, runId, f.path, auth)));
    else out.push({ path: f.path, size: f.file_size ?? 0 });
  }
  return out;
}

export async function readExperiment(uri: string, name: string, auth?: { username: string; password: string }) {
  const exp = await api<{ experiment: { experiment_id: string; lifecycle_stage: string; tags?: { key: string; value: string }[] } }>(
    uri,
    `experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
    {},
    auth,
  );
  const search = await api<{ runs?: Raw[] }>(uri, 'runs/search', { method: 'POST', body: JSON.stringify({ experiment_ids: [exp.experiment.experiment_id], max_results: 1000 }) }, auth);
  const runs: ReadRun[] = [];
  for (const raw of search.runs ?? []) {
    const id = raw.info.run_id as string;
    const history: ReadRun['history'] = {};
    for (const key of new Set((raw.data.metrics ?? []).map((m) => m.key))) {
      const h = await api<{ metrics: { step: string | number; value: number | string; timestamp: string | number }[] }>(
        uri,
        `metrics/get-history?run_id=${id}&metric_key=${encodeURIComponent(key)}`,
        {},
        auth,
      );
      history[key] = h.metrics.map((m) => ({ step: Number(m.step), value: Number(m.value), timestamp: Number(m.timestamp) })).sort((a, b) => a.step - b.step);
    }
    runs.push({
      id,
      name: raw.info.run_name as string,
      status: raw.info.status as string,
      startTime: Number(raw.info.start_time),
      endTime: raw.info.end_time === undefined ? undefined : Number(raw.info.end_time),
      artifactUri: raw.info.artifact_uri as string,
      params: Object.fromEntries((raw.data.params ?? []).map((p) => [p.key, p.value])),
      tags: Object.fromEntries((raw.data.tags ?? []).map((t) => [t.key, t.value])),
      inputs: raw.inputs?.dataset_inputs ?? [],
      history,
      artifacts: (await artifactsOf(uri, id, undefined, auth)).sort((a, b) => a.path.localeCompare(b.path)),
    });
  }
  return { id: exp.experiment.experiment_id, stage: exp.experiment.lifecycle_stage, tags: Object.fromEntries((exp.experiment.tags ?? []).map((t) => [t.key, t.value])), runs };
}

export async function downloadArtifact(uri: string, run: ReadRun, path: string, auth?: { username: string; password: string }): Promise<Buffer> {
  const rel = run.artifactUri.replace(/^mlflow-artifacts:\//, '');
  const res = await send(`${uri}/api/2.0/mlflow-artifacts/artifacts/${rel}/${path}`, { headers: authHeaders(auth) });
  if (!res.ok) throw new Error(`download ${path}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * What must match between two experiments that ran the same sweep: no ids, no times, no
 * durations, and not whether the feature cache hit (a rerun finds what the first run cached).
 * Logged images are named with their time and an id (MLflow's `log_image` layout): kept by key and step.
 */
export function snapshot(exp: Awaited<ReturnType<typeof readExperiment>>) {
  const timing = /seconds|examples_per_second|^(diag\/)?feature_cache\//;
  return exp.runs
    .map((r) => ({
      name: r.name,
      status: r.status,
      kind: r.tags['tunespec.kind'],
      variant: r.tags['tunespec.variant_id'] ?? '',
      params: Object.fromEntries(Object.entries(r.params).filter(([k]) => k !== 'name')),
      tagKeys: Object.keys(r.tags).sort(),
      history: Object.fromEntries(
        Object.entries(r.history)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, h]) => [k, h.map((m) => (timing.test(k) ? m.step : [m.step, m.value]))]),
      ),
      artifacts: r.artifacts.map((a) => a.path.replace(/\+timestamp\+\d+\+[0-9a-f-]+/, '')),
      inputs: r.inputs.map((i) => i.dataset.digest).sort(),
    }))
    .sort((a, b) => `${a.kind}${a.variant}`.localeCompare(`${b.kind}${b.variant}`));
}
