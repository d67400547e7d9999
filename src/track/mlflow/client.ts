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

/** An MLflow 3 logged model: a model with its own artifacts, params and metrics, linked to the run that made it. */
export interface LoggedModel {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    artifact_uri: string;
    status: 'LOGGED_MODEL_PENDING' | 'LOGGED_MODEL_READY' | 'LOGGED_MODEL_UPLOAD_FAILED';
    source_run_id?: string;
    tags?: KeyValue[];
  };
  data?: { params?: KeyValue[]; metrics?: (Metric & { model_id?: string })[] };
}

/** A version of a model in MLflow's Model Registry. */
export interface ModelVersion {
  name: string;
  version: string;
  source: string;
  run_id?: string;
  status: string;
  tags?: KeyValue[];
  aliases?: string[];
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

/** The URL parameter that opens MLflow 3's classic machine-learning views rather than its GenAI ones. */
const ML_VIEWS = 'workflowType=machine_learning';

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
  if (e.cause?.code === 'UND_ERR_SOCKET') return 'the connection closed';
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

  /** The whole body of a successful answer; undefined for a 404 the caller allows. */
  private async request(method: string, path: string, opts: RequestOptions = {}): Promise<Buffer | undefined> {
    const url = new URL(this.config.uri.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const endpoint = `${method} ${path}`;
    const { retry } = this.config;
    const attempts = opts.probe ? 1 : retry.maxRetries + 1;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      let body: Buffer;
      try {
        const init = {
          method,
          headers: this.headers(opts.json !== undefined),
          body: opts.json !== undefined ? JSON.stringify(opts.json) : opts.body && Buffer.from(opts.body.buffer, opts.body.byteOffset, opts.body.byteLength),
          signal: AbortSignal.any([AbortSignal.timeout((opts.probe ?? retry.timeoutSeconds) * 1000), this.abandoned.signal]),
        };
        res = await undici().fetch(url, { ...init, dispatcher: this.dispatcher });
        // The body is read here, inside the retry: a server killed between its headers and the
        // end of its body has dropped the connection as surely as one that never answered.
        body = Buffer.from(await res.arrayBuffer());
      } catch (err) {
        if (this.abandoned.signal.aborted) throw new TrackingError(`MLflow ${endpoint} at ${this.config.uri}: abandoned after ${attempt} attempt(s)`, endpoint);
        if (attempt < attempts) {
          await sleep(backoffSeconds(attempt, retry), this.abandoned.signal);
          continue;
        }
        throw new TrackingError(`MLflow ${endpoint} at ${this.config.uri}: cannot reach the server (${describe(err)}) after ${attempt} attempt(s)`, endpoint);
      }
      if (res.ok) return body;
      if (res.status === 404 && opts.allowMissing) return undefined;
      if (RETRY_STATUSES.has(res.status) && attempt < attempts) {
        await sleep(Math.max(backoffSeconds(attempt, retry), retryAfterSeconds(res.headers.get('retry-after')) ?? 0), this.abandoned.signal);
        continue;
      }
      throw this.failure(endpoint, res, body.toString('utf8'));
    }
  }

  private failure(endpoint: string, res: Response, text: string): TrackingError {
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
    const body = await this.request(method, `/api/2.0/mlflow/${api}`, opts);
    return body ? (JSON.parse(body.toString('utf8')) as T) : undefined;
  }

  /**
   * Where the MLflow UI shows a run. MLflow 3 opens experiments in its GenAI workflow (traces,
   * evaluations) unless the URL asks for the classic machine-learning views, which are where
   * runs, their charts and comparisons live; the experiment tag `mlflow.experimentKind` does not
   * change that, the `workflowType` parameter does (and the UI remembers it).
   */
  runUrl(experimentId: string, runId: string): string {
    return `${this.config.uri}/#/experiments/${experimentId}/runs/${runId}?${ML_VIEWS}`;
  }

  /**
   * The experiment's runs table, in the machine-learning views, sorted by `sort` (best first) when
   * given. It names the `runs` tab itself: the UI's redirect from `#/experiments/<id>` to it drops
   * the query, sort and view included.
   */
  experimentUrl(experimentId: string, sort?: { metric: string; greaterIsBetter: boolean }): string {
    const order = sort ? `&${new URLSearchParams({ orderByKey: `metrics.\`${sort.metric}\``, orderByAsc: String(!sort.greaterIsBetter) })}` : '';
    return `${this.config.uri}/#/experiments/${experimentId}/runs?${ML_VIEWS}${order}`;
  }

  /** MLflow's side-by-side comparison of these runs (params, metrics, images). */
  compareUrl(experimentId: string, runIds: string[]): string {
    const q = new URLSearchParams({ runs: JSON.stringify(runIds), experiments: JSON.stringify([experimentId]) });
    return `${this.config.uri}/#/compare-runs?${q}&${ML_VIEWS}`;
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

  async deleteTag(runId: string, key: string): Promise<void> {
    await this.call('POST', 'runs/delete-tag', { json: { run_id: runId, key } });
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

  async createLoggedModel(m: { experimentId: string; name: string; sourceRunId: string; modelType: string; params: KeyValue[]; tags: KeyValue[] }): Promise<LoggedModel> {
    const json = { experiment_id: m.experimentId, name: m.name, source_run_id: m.sourceRunId, model_type: m.modelType, params: m.params, tags: m.tags };
    return (await this.call<{ model: LoggedModel }>('POST', 'logged-models', { json }))!.model;
  }

  async getLoggedModel(modelId: string): Promise<LoggedModel | undefined> {
    return (await this.call<{ model: LoggedModel }>('GET', `logged-models/${encodeURIComponent(modelId)}`, { allowMissing: true }))?.model;
  }

  /**
   * Every logged model of the experiments matching `filter` (MLflow's search syntax), across
   * pages; undefined from a server that has no logged models (MLflow 2 answers 404).
   */
  async searchLoggedModels(experimentIds: string[], filter: string): Promise<LoggedModel[] | undefined> {
    const out: LoggedModel[] = [];
    let token: string | undefined;
    do {
      const json = { experiment_ids: experimentIds, filter, max_results: 100, page_token: token };
      const page = await this.call<{ models?: LoggedModel[]; next_page_token?: string }>('POST', 'logged-models/search', { json, allowMissing: true });
      if (!page) return undefined;
      out.push(...(page.models ?? []));
      token = page.next_page_token;
    } while (token);
    return out;
  }

  async deleteLoggedModel(modelId: string): Promise<void> {
    await this.call('DELETE', `logged-models/${encodeURIComponent(modelId)}`);
  }

  async finalizeLoggedModel(modelId: string, status: 'LOGGED_MODEL_READY' | 'LOGGED_MODEL_UPLOAD_FAILED'): Promise<void> {
    await this.call('PATCH', `logged-models/${encodeURIComponent(modelId)}`, { json: { model_id: modelId, status } });
  }

  /** Metrics of a logged model: logged to its source run too, as the Python client's `log_metric(model_id=…)` does. */
  async logModelMetrics(runId: string, modelId: string, metrics: Metric[]): Promise<void> {
    for (const batch of packBatches(metrics, [], [])) {
      await this.call('POST', 'runs/log-batch', { json: { run_id: runId, metrics: batch.metrics.map((m) => ({ ...m, model_id: modelId })) } });
    }
  }

  /** Record a logged model as an output of a run: what the run page lists under "Logged models". */
  async logOutputs(runId: string, models: { model_id: string; step: number }[]): Promise<void> {
    await this.call('POST', 'runs/outputs', { json: { run_id: runId, models } });
  }

  /** The model ids a run lists as its outputs. */
  async runOutputs(runId: string): Promise<string[]> {
    const r = await this.call<{ run: { outputs?: { model_outputs?: { model_id: string }[] } } }>('GET', 'runs/get', { query: { run_id: runId } });
    return (r!.run.outputs?.model_outputs ?? []).map((o) => o.model_id);
  }

  /** Files directly under `path` of an artifact root the server proxies (mlflow-artifacts:), with names relative to `path`. */
  async listProxied(artifactUri: string, path = ''): Promise<ArtifactFile[]> {
    const root = this.proxiedRoot(artifactUri);
    const body = await this.request('GET', '/api/2.0/mlflow-artifacts/artifacts', { query: { path: path ? `${root}/${path}` : root } });
    return (JSON.parse(body!.toString('utf8')) as { files?: ArtifactFile[] }).files ?? [];
  }

  /** Every file under an artifact root the server proxies, recursively, with paths relative to the root. */
  async listAllProxied(artifactUri: string, path = ''): Promise<ArtifactFile[]> {
    const out: ArtifactFile[] = [];
    for (const f of await this.listProxied(artifactUri, path)) {
      const rel = path ? `${path}/${f.path}` : f.path;
      if (f.is_dir) out.push(...(await this.listAllProxied(artifactUri, rel)));
      else out.push({ ...f, path: rel });
    }
    return out;
  }

  /** Create a registered model; one that exists already is fine (the Python client's `register_model` does the same). */
  async ensureRegisteredModel(name: string): Promise<void> {
    try {
      await this.call('POST', 'registered-models/create', { json: { name } });
    } catch (err) {
      if (!(err instanceof TrackingError && err.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw err;
    }
  }

  async createModelVersion(v: { name: string; source: string; runId?: string; modelId?: string; tags: KeyValue[]; description?: string }): Promise<ModelVersion> {
    const json = { name: v.name, source: v.source, run_id: v.runId, model_id: v.modelId, tags: v.tags, description: v.description };
    return (await this.call<{ model_version: ModelVersion }>('POST', 'model-versions/create', { json }))!.model_version;
  }

  async deleteModelVersion(name: string, version: string): Promise<void> {
    await this.call('DELETE', 'model-versions/delete', { json: { name, version }, allowMissing: true });
  }

  /** Every model version matching `filter` (MLflow's search syntax), across pages. */
  async searchModelVersions(filter: string): Promise<ModelVersion[]> {
    const out: ModelVersion[] = [];
    let token: string | undefined;
    do {
      const page = (await this.call<{ model_versions?: ModelVersion[]; next_page_token?: string }>('GET', 'model-versions/search', {
        query: { filter, max_results: 1000, page_token: token },
      }))!;
      out.push(...(page.model_versions ?? []));
      token = page.next_page_token;
    } while (token);
    return out;
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion | undefined> {
    return (await this.call<{ model_version: ModelVersion }>('GET', 'model-versions/get', { query: { name, version }, allowMissing: true }))?.model_version;
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion | undefined> {
    return (await this.call<{ model_version: ModelVersion }>('GET', 'registered-models/alias', { query: { name, alias }, allowMissing: true }))?.model_version;
  }

  /** Where a model version's files are: the artifact root of its logged model (or run folder). */
  async getModelVersionDownloadUri(name: string, version: string): Promise<string> {
    return (await this.call<{ artifact_uri: string }>('GET', 'model-versions/get-download-uri', { query: { name, version } }))!.artifact_uri;
  }

  /** Where the MLflow UI shows a registered model version. */
  modelVersionUrl(name: string, version: string): string {
    return `${this.config.uri}/#/models/${encodeURIComponent(name)}/versions/${version}`;
  }

  /** Where the MLflow UI shows a logged model. */
  loggedModelUrl(experimentId: string, modelId: string): string {
    return `${this.config.uri}/#/experiments/${experimentId}/models/${modelId}`;
  }

  /** The path under the artifact proxy of an mlflow-artifacts: URI. */
  private proxiedRoot(artifactUri: string): string {
    // A server started with --serve-artifacts (the default) hands out mlflow-artifacts: URIs and
    // proxies them; any other URI (s3://, a local path) is storage this client cannot write.
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
    if (!m) {
      throw new TrackingError(
        `MLflow run artifacts live at ${artifactUri}, which this server does not proxy; start it with --serve-artifacts ` +
          `(the default) and an --artifacts-destination, so artifacts go through the tracking server`,
      );
    }
    return m[1].replace(/\/$/, '');
  }

  private proxyPath(artifactUri: string, relPath: string): string {
    const rel = relPath.split('/').map(encodeURIComponent).join('/');
    return `/api/2.0/mlflow-artifacts/artifacts/${this.proxiedRoot(artifactUri)}/${rel}`;
  }

  async uploadArtifact(artifactUri: string, relPath: string, data: Uint8Array): Promise<void> {
    await this.request('PUT', this.proxyPath(artifactUri, relPath), { body: data });
  }

  async downloadArtifact(artifactUri: string, relPath: string): Promise<Buffer> {
    return (await this.request('GET', this.proxyPath(artifactUri, relPath)))!;
  }
}
