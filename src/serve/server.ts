import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InputError, ModelError, TunespecError, UsageError } from '../errors.ts';
import { ContextLengthError } from '../model/families/llama/generate.ts';
import { listModels, ModelNotFoundError, resolveModel, type ModelRef } from '../app/resolve-model.ts';
import { loadTextGenerator, type GenerateResult } from '../app/text-generator.ts';
import { loadTextClassifier } from '../app/text-classifier.ts';
import { ApiError, badParam, sendError, sendJson } from './api-error.ts';
import { ModelPool } from './model-pool.ts';
import { parseChatRequest, parseCompletionRequest, type CompletionRequest } from './openai-request.ts';

export interface ServeOptions {
  host: string;
  port: number;
  runsDir: string;
  /** When set, every request must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  maxModelsBytes: number;
  /** Request bodies larger than this are refused with 413. */
  maxBodyBytes?: number;
  log: (line: string) => void;
}

export interface RunningServer {
  /** http://host:port, the port the system gave when 0 was asked. */
  url: string;
  port: number;
  /** Stops taking requests, ends running generations (their answers end as they stand), unloads every model. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Receiving a request (headers and body) must end within this; generation time is not counted. */
const REQUEST_RECEIVE_MS = 60_000;
const HEADERS_MS = 20_000;
/** After close, connections still open this long are cut. */
const CLOSE_GRACE_MS = 5_000;

const ROUTES: Record<string, string[]> = {
  '/v1/models': ['GET'],
  '/v1/completions': ['POST'],
  '/v1/chat/completions': ['POST'],
  '/v1/classifications': ['POST'],
};

/** Inputs one classification request may carry. */
export const MAX_CLASSIFICATION_INPUTS = 256;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * The bearer key, checked in constant time: both sides are hashed first so neither the key's
 * length nor its first differing byte shows in the time taken. Nothing of what was sent is logged
 * or echoed.
 */
function checkKey(req: IncomingMessage, key: string | undefined): void {
  if (key === undefined) return;
  const header = req.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  if (!m) {
    throw new ApiError(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
  }
  if (!timingSafeEqual(digest(m[1]), digest(key))) throw new ApiError(401, 'Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key');
}

/** The JSON object a request carries, refused past `limit` bytes (413) or when it is not a JSON object (400). */
async function readBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new ApiError(413, `the request body is ${declared} bytes; the limit is ${limit}`, 'invalid_request_error', null, 'request_too_large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ApiError(413, `the request body is over the limit of ${limit} bytes`, 'invalid_request_error', null, 'request_too_large');
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new ApiError(400, `the request body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ApiError(400, 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** Anything thrown while answering, as the API error a client gets. */
function apiErrorOf(err: unknown, log: (line: string) => void): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ModelNotFoundError) return new ApiError(404, `The model \`${err.model}\` does not exist or you do not have access to it. ${err.message}`, 'invalid_request_error', 'model', 'model_not_found');
  if (err instanceof ContextLengthError) {
    return new ApiError(400, `This model's maximum context length is ${err.contextLength} tokens. However, your prompt is ${err.promptTokens} tokens.`, 'invalid_request_error', null, 'context_length_exceeded');
  }
  if (err instanceof InputError || err instanceof UsageError) return new ApiError(400, err.message);
  if (err instanceof ModelError || err instanceof TunespecError) return new ApiError(500, `the model could not be used: ${err.message}`, 'server_error');
  log(`serve: internal error: ${(err as Error)?.stack ?? String(err)}`);
  return new ApiError(500, 'internal error (the server log has the details)', 'server_error');
}

const now = () => Math.floor(Date.now() / 1000);
const idOf = (prefix: string) => `${prefix}-${randomBytes(12).toString('hex')}`;

function modelObject(m: ModelRef) {
  return { id: m.name, object: 'model', created: m.created, owned_by: m.ownedBy };
}

function usageOf(r: Pick<GenerateResult, 'promptTokens' | 'completionTokens'>) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
}

/** Server-sent events as OpenAI streams them: `data: <json>` blocks, then `data: [DONE]`. */
class EventStream {
  started = false;
  constructor(private readonly res: ServerResponse) {}

  start(): void {
    this.started = true;
    this.res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  }

  send(data: unknown): void {
    this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  done(): void {
    this.res.end('data: [DONE]\n\n');
  }
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const maxBody = o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const pool = new ModelPool(o.maxModelsBytes, o.log);
  const closing = new AbortController();

  async function model(name: string): Promise<ModelRef> {
    return resolveModel(name, { runsDir: o.runsDir, allowPaths: false });
  }

  async function complete(kind: 'completion' | 'chat', req: IncomingMessage, res: ServerResponse): Promise<string> {
    const body = await readBody(req, maxBody);
    const r: CompletionRequest = kind === 'chat' ? parseChatRequest(body) : parseCompletionRequest(body);
    const ref = await model(r.model);
    const id = idOf(kind === 'chat' ? 'chatcmpl' : 'cmpl');
    const created = now();
    const object = kind === 'chat' ? 'chat.completion' : 'text_completion';
    // A client that goes away stops its generation at the next token.
    const gone = new AbortController();
    res.on('close', () => res.writableFinished || gone.abort());
    const signal = AbortSignal.any([gone.signal, closing.signal]);
    const events = r.stream ? new EventStream(res) : undefined;
    const chunk = (delta: string | undefined, finish: string | null, first = false) =>
      kind === 'chat'
        ? { id, object: 'chat.completion.chunk', created, model: r.model, choices: [{ index: 0, delta: first ? { role: 'assistant', content: '' } : delta === undefined ? {} : { content: delta }, logprobs: null, finish_reason: finish }] }
        : { id, object: 'text_completion', created, model: r.model, choices: [{ text: delta ?? '', index: 0, logprobs: null, finish_reason: finish }] };
    let result: GenerateResult;
    try {
      result = await pool.use(ref, () => loadTextGenerator(ref), (g) =>
        g.generate({
          prompt: r.prompt,
          maxTokens: r.maxTokens,
          sampling: r.sampling,
          stop: r.stop,
          signal,
          onStart: () => {
            if (!events) return;
            events.start();
            if (kind === 'chat') events.send(chunk(undefined, null, true));
          },
          onText: events ? (delta) => events.send(chunk(delta, null)) : undefined,
        }),
      );
    } catch (err) {
      if (!events?.started) throw err;
      // The headers are gone: the error travels as an event, which OpenAI's clients raise.
      events.send(apiErrorOf(err, o.log).body);
      events.done();
      return `${ref.name} failed mid-stream`;
    }
    if (events) {
      events.send(chunk(undefined, result.finishReason));
      if (r.streamUsage) events.send({ id, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created, model: r.model, choices: [], usage: usageOf(result) });
      events.done();
    } else {
      const choice =
        kind === 'chat'
          ? { index: 0, message: { role: 'assistant', content: result.text, refusal: null }, logprobs: null, finish_reason: result.finishReason }
          : { text: result.text, index: 0, logprobs: null, finish_reason: result.finishReason };
      sendJson(res, 200, { id, object, created, model: r.model, choices: [choice], usage: usageOf(result) });
    }
    return `${ref.name} ${result.promptTokens}+${result.completionTokens} tokens in ${result.seconds.toFixed(2)} s, finish ${result.finishReason}`;
  }

  /**
   * POST /v1/classifications (tunespec's own; OpenAI has none): `{model: <variant id>, input:
   * text | [texts] | [[text, pair], …]}` → `{object: "list", model, data: [{object:
   * "classification", index, label, probabilities: {class: p}}]}`, as `tunespec predict` ranks them.
   */
  async function classify(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const body = await readBody(req, maxBody);
    if (typeof body.model !== 'string' || body.model === '') throw badParam('model', 'you must provide a model parameter (a text classification variant id)');
    const raw = body.input;
    const inputs = typeof raw === 'string' ? [raw] : raw;
    if (!Array.isArray(inputs) || inputs.length === 0) throw badParam('input', 'input must be a string or a non-empty array of inputs');
    if (inputs.length > MAX_CLASSIFICATION_INPUTS) throw badParam('input', `input holds ${inputs.length} inputs; the limit is ${MAX_CLASSIFICATION_INPUTS} a request`);
    const id = body.model;
    const key = { name: id, source: `classifier:${id}` };
    const results = await pool.use(key, () => loadTextClassifier(id, o.runsDir), (c) => c.classify(inputs as (string | string[])[]));
    sendJson(res, 200, { object: 'list', model: id, data: results.map((r, index) => ({ object: 'classification', index, label: r.label, probabilities: r.probabilities })) });
    return `${id} ${inputs.length} input${inputs.length === 1 ? '' : 's'}`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    checkKey(req, o.apiKey);
    const modelPath = /^\/v1\/models\/(.+)$/.exec(path);
    const allowed = modelPath ? ['GET'] : ROUTES[path];
    if (!allowed) throw new ApiError(404, `Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error', null, 'unknown_url');
    if (!allowed.includes(req.method ?? '')) throw new ApiError(405, `${req.method} is not allowed on ${path}; use ${allowed.join(', ')}`, 'invalid_request_error', null, 'method_not_allowed');
    if (modelPath) {
      const name = decodeURIComponent(modelPath[1]);
      const found = (await listModels(o.runsDir)).find((m) => m.name === name);
      if (!found) throw apiErrorOf(new ModelNotFoundError(name, ''), o.log);
      sendJson(res, 200, modelObject(found));
      return name;
    }
    if (path === '/v1/models') {
      const models = await listModels(o.runsDir);
      sendJson(res, 200, { object: 'list', data: models.map(modelObject) });
      return `${models.length} models`;
    }
    if (path === '/v1/classifications') return classify(req, res);
    return complete(path === '/v1/chat/completions' ? 'chat' : 'completion', req, res);
  }

  const server: Server = createServer((req, res) => {
    const started = performance.now();
    const line = (status: number, what: string) => o.log(`serve: ${req.method} ${(req.url ?? '').split('?')[0]} ${status}${what ? ` ${what}` : ''} (${((performance.now() - started) / 1000).toFixed(2)} s)`);
    handle(req, res).then(
      (what) => line(res.statusCode, what),
      (err) => {
        const e = apiErrorOf(err, o.log);
        if (!res.headersSent) {
          // Past the body limit the rest of the body is not read: the connection closes after the answer.
          sendError(res, e, { ...(e.status === 413 ? { Connection: 'close' } : {}), ...(e.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}), ...(e.status === 405 ? { Allow: (ROUTES[new URL(req.url ?? '/', 'http://x').pathname] ?? ['GET']).join(', ') } : {}) });
        } else res.end();
        line(e.status, e.code ?? e.type);
      },
    );
  });
  server.requestTimeout = REQUEST_RECEIVE_MS;
  server.headersTimeout = HEADERS_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new UsageError(`port ${o.port} on ${o.host} is in use: pick another with --port (0: any free port)`) : err.code === 'EADDRNOTAVAIL' ? new UsageError(`${o.host} is not an address of this machine (--host)`) : err),
    );
    server.listen(o.port, o.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: async () => {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      await closed;
      clearTimeout(cut);
      await pool.close();
    },
  };
}

