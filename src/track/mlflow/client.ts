import type { Agent, Response } from 'undici';
import { undici } from '../../lazy-package.ts';
import { TrackingError } from '../../errors.ts';
import type { TrackingConfig } from './config.ts';
import { LIMITS, packBatches, type KeyValue, type Metric } from './limits.ts';
import { backoffSeconds, RETRY_STATUSES, retryAfterSeconds } from '../../net/retry.ts';

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface Experiment {
  experiment_id: string;
  name: string;
  lifecycle_stage: 'active' | 'deleted';
  tags?: KeyValue[];
}

export interface RunInfo {
  run_id: string;
  experiment_id: string;
  run_name: string;
  status: RunStatus;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: string;
}

export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: { dataset_inputs?: DatasetInput[] };
}

export interface DatasetInput {
  tags: KeyValue[];
  dataset: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string };
}

export interface ArtifactFile {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: Uint8Array;
  /** A 404 answers undefined instead of failing. */
  allowMissing?: boolean;
  /** One attempt, this timeout: for probes that must not stall training. */
  probe?: number;
}

/** A wait between retries that ends early, quietly, when the client is abandoned. */
const sleep = (seconds: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, seconds * 1000);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

function describe(err: unknown): string {
  const e = err as Error & { cause?: Error & { code?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

/**
 * A typed client for the MLflow REST API (tracking and the artifact proxy). Retries what the
 * Python client retries, the way it does; every failure names the endpoint, the status and
 * MLflow's error_code, and never the credentials.
 */
export class MlflowClient {
  private readonly dispatcher?: Agent;
  private readonly abandoned = new AbortController();

  constructor(readonly config: TrackingConfig) {
    // undici is the engine behind Node's fetch; its own entry point takes the per-client TLS switch.
    if (config.insecureTls) this.dispatcher = new (undici().Agent)({ connect: { rejectUnauthorized: false } });
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = { 'User-Agent': 'tunespec' };
    if (json) h['Content-Type'] = 'application/json';
    const auth = this.config.auth;
    if (auth?.kind === 'bearer') h.Authorization = `Bearer ${auth.token}`;
    if (auth?.kind === 'basic') h.Authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    return h;
  }

  /**
   * Stop every request now, retries and their waits included: for a server that stopped
   * answering when nothing else is left to do but wait for it (the end of a run).
   */
  abandon(): void {
    this.abandoned.abort();
  }

  private async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response | undefined> {
    const url = new URL(this.config.uri.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const endpoint = `${method} ${path}`;
    const { retry } = this.config;
    const attempts = opts.probe ? 1 : retry.maxRetries + 1;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        const init = {
          method,
          headers: this.headers(opts.json !== undefined),
          body: opts.json !== undefined ? JSON.stringify(opts.json) : opts.body && Buffer.from(opts.body.buffer, opts.body.byteOffset, opts.body.byteLength),
          signal: AbortSignal.any([AbortSignal.timeout((opts.probe ?? retry.timeoutSeconds) * 1000), this.abandoned.signal]),
        };
        res = await undici().fetch(url, { ...init, dispatcher: this.dispatcher });
      } catch (err) {
        if (this.abandoned.signal.aborted) throw new TrackingError(`MLflow ${endpoint} at ${this.config.uri}: abandoned after ${attempt} attempt(s)`, endpoint);
        if (attempt < attempts) {
          await sleep(backoffSeconds(attempt, retry), this.abandoned.signal);
          continue;
        }
        throw new TrackingError(`MLflow ${endpoint} at ${this.config.uri}: cannot reach the server (${describe(err)}) after ${attempt} attempt(s)`, endpoint);
      }
      if (res.ok) return res;
      if (res.status === 404 && opts.allowMissing) return undefined;
      if (RETRY_STATUSES.has(res.status) && attempt < attempts) {
        await res.body?.cancel();
        await sleep(Math.max(backoffSeconds(attempt, retry), retryAfterSeconds(res.headers.get('retry-after')) ?? 0), this.abandoned.signal);
        continue;
      }
      throw await this.failure(endpoint, res);
    }
  }

  private async failure(endpoint: string, res: Response): Promise<TrackingError> {
    const text = await res.text().catch(() => '');
    let code: string | undefined;
    let message = text.trim().slice(0, 300);
    try {
      const body = JSON.parse(text) as { error_code?: string; message?: string };
      code = body.error_code;
      message = body.message ?? message;
    } catch {
      // Not MLflow's JSON (a proxy's HTML page, say): the start of the text is the best we have.
    }
    const hint =
      res.status === 401 || res.status === 403
        ? ' (check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN)'
        : '';
    return new TrackingError(`MLflow ${endpoint} failed: ${res.status}${code ? ` ${code}` : ''}: ${message || res.statusText}${hint}`, endpoint, res.status, code);
  }

  private async call<T>(method: string, api: string, opts: RequestOptions = {}): Promise<T | undefined> {
    const res = await this.request(method, `/api/2.0/mlflow/${api}`, opts);
    return res ? ((await res.json()) as T) : undefined;
  }

  /** Where the MLflow UI shows a run. */
  runUrl(experimentId: string, runId: string): string {
    return `${this.config.uri}/#/experiments/${experimentId}/runs/${runId}`;
  }

  /** One quick attempt: is the server answering? Never throws. */
  async healthy(timeoutSeconds = 3): Promise<boolean> {
    try {
      return (await this.request('GET', '/health', { probe: timeoutSeconds })) !== undefined;
    } catch {
      return false;
    }
  }

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    const r = await this.call<{ experiment: Experiment }>('GET', 'experiments/get-by-name', { query: { experiment_name: name }, allowMissing: true });
    return r?.experiment;
  }

  async createExperiment(name: string, tags: KeyValue[] = []): Promise<string> {
    return (await this.call<{ experiment_id: string }>('POST', 'experiments/create', { json: { name, tags } }))!.experiment_id;
  }

  async setExperimentTag(experimentId: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'experiments/set-experiment-tag', { json: { experiment_id: experimentId, key, value } });
  }

  async createRun(r: { experimentId: string; runName: string; startTime: number; tags: KeyValue[]; userId?: string }): Promise<RunInfo> {
    const json = { experiment_id: r.experimentId, run_name: r.runName, start_time: r.startTime, tags: r.tags.slice(0, LIMITS.tagsPerBatch), user_id: r.userId };
    const info = (await this.call<{ run: Run }>('POST', 'runs/create', { json }))!.run.info;
    if (r.tags.length > LIMITS.tagsPerBatch) await this.logBatch(info.run_id, { tags: r.tags.slice(LIMITS.tagsPerBatch) });
    return info;
  }

  async getRun(runId: string): Promise<Run | undefined> {
    return (await this.call<{ run: Run }>('GET', 'runs/get', { query: { run_id: runId }, allowMissing: true }))?.run;
  }

  async updateRun(runId: string, status: RunStatus, endTime?: number): Promise<void> {
    await this.call('POST', 'runs/update', { json: { run_id: runId, status, end_time: endTime } });
  }

  /** Moves a run to the deleted stage (`mlflow gc` purges it); searches no longer find it. */
  async deleteRun(runId: string): Promise<void> {
    await this.call('POST', 'runs/delete', { json: { run_id: runId } });
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'runs/set-tag', { json: { run_id: runId, key, value } });
  }

  /** Every run matching `filter`, across pages. */
  async searchRuns(experimentIds: string[], filter: string): Promise<Run[]> {
    const runs: Run[] = [];
    let token: string | undefined;
    do {
      const json = { experiment_ids: experimentIds, filter, max_results: 1000, page_token: token, run_view_type: 'ACTIVE_ONLY' };
      const page = (await this.call<{ runs?: Run[]; next_page_token?: string }>('POST', 'runs/search', { json }))!;
      runs.push(...(page.runs ?? []));
      token = page.next_page_token;
    } while (token);
    return runs;
  }

  async logBatch(runId: string, items: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] }): Promise<void> {
    for (const batch of packBatches(items.metrics ?? [], items.params ?? [], items.tags ?? [])) {
      await this.call('POST', 'runs/log-batch', { json: { run_id: runId, ...batch } });
    }
  }

  async logInputs(runId: string, datasets: DatasetInput[]): Promise<void> {
    await this.call('POST', 'runs/log-inputs', { json: { run_id: runId, datasets } });
  }

  /** Every logged value of one metric, across pages. */
  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    const out: Metric[] = [];
    let token: string | undefined;
    do {
      const page = (await this.call<{ metrics?: (Omit<Metric, 'value'> & { value: number | string })[]; next_page_token?: string }>('GET', 'metrics/get-history', {
        query: { run_id: runId, metric_key: key, max_results: 25000, page_token: token },
      }))!;
      for (const m of page.metrics ?? []) out.push({ ...m, value: Number(m.value), timestamp: Number(m.timestamp), step: Number(m.step) });
      token = page.next_page_token;
    } while (token);
    return out;
  }

  async listArtifacts(runId: string, path?: string): Promise<ArtifactFile[]> {
    return (await this.call<{ files?: ArtifactFile[] }>('GET', 'artifacts/list', { query: { run_id: runId, path } }))?.files ?? [];
  }

  /** Every file under a run's artifact root, recursively, with its size. */
  async listAllArtifacts(runId: string, path?: string): Promise<ArtifactFile[]> {
    const out: ArtifactFile[] = [];
    for (const f of await this.listArtifacts(runId, path)) {
      if (f.is_dir) out.push(...(await this.listAllArtifacts(runId, f.path)));
      else out.push(f);
    }
    return out;
  }

  private proxyPath(artifactUri: string, relPath: string): string {
    // A server started with --serve-artifacts (the default) hands out mlflow-artifacts: URIs and
    // proxies them; any other URI (s3://, a local path) is storage this client cannot write.
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
    if (!m) {
      throw new TrackingError(
        `MLflow run artifacts live at ${artifactUri}, which this server does not proxy; start it with --serve-artifacts ` +
          `(the default) and an --artifacts-destination, so artifacts go through the tracking server`,
      );
    }
    const rel = relPath.split('/').map(encodeURIComponent).join('/');
    return `/api/2.0/mlflow-artifacts/artifacts/${m[1].replace(/\/$/, '')}/${rel}`;
  }

  async uploadArtifact(artifactUri: string, relPath: string, data: Uint8Array): Promise<void> {
    await this.request('PUT', this.proxyPath(artifactUri, relPath), { body: data });
  }

  async downloadArtifact(artifactUri: string, relPath: string): Promise<Buffer> {
    const res = await this.request('GET', this.proxyPath(artifactUri, relPath));
    return Buffer.from(await res!.arrayBuffer());
  }
}
