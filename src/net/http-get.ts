import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent } from 'undici';
import { undici } from '../lazy-package.ts';
import { downloadProgress, formatBytes, type DownloadProgress } from './download-progress.ts';
import { httpSettings, type HttpSettings } from './http-settings.ts';
import { redactUrl, redactUrlsIn } from './redact.ts';
import { backoffSeconds, RETRY_STATUSES, retryAfterSeconds } from './retry.ts';

/** A download that failed for good; the message names the URL without its secrets. */
export class HttpGetError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HttpGetError';
  }
}

export interface HttpGetOptions {
  settings?: HttpSettings;
  /** Progress for this download; by default a line on stderr once it is large. */
  progress?: (label: string) => DownloadProgress;
}

/** Waits between retries: 0, 2, 4 s… plus up to half a second, urllib3's shape. */
const BACKOFF = { backoffFactor: 1, backoffJitter: 0.5 };
/** A server's Retry-After is honoured up to this. */
const MAX_RETRY_AFTER_SECONDS = 30;

/** Network failures worth another try; a wrong host name or a bad certificate are not. */
const RETRY_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

/** One attempt's failure: why, and whether another attempt may fare better. */
class AttemptFailure {
  constructor(
    readonly reason: string,
    readonly retry: boolean,
    readonly status?: number,
    readonly waitSeconds = 0,
  ) {}
}

function codeOf(err: unknown): string | undefined {
  for (let e = err as (Error & { code?: string; cause?: unknown }) | undefined; e; e = e.cause as typeof e) {
    if (e.code) return e.code;
  }
  return undefined;
}

function networkFailure(err: unknown, seconds: number, received: number, total: number | undefined): AttemptFailure {
  const code = codeOf(err);
  const setting = 'TUNESPEC_HTTP_TIMEOUT sets the limit';
  const reason =
    code === 'UND_ERR_CONNECT_TIMEOUT'
      ? `could not connect within ${seconds} s (${setting})`
      : code === 'UND_ERR_HEADERS_TIMEOUT'
        ? `no answer within ${seconds} s (${setting})`
        : code === 'UND_ERR_BODY_TIMEOUT'
          ? `the download stalled for ${seconds} s after ${formatBytes(received)}${total ? ` of ${formatBytes(total)}` : ''} (${setting})`
          : code === 'UND_ERR_SOCKET'
            ? `the connection closed after ${formatBytes(received)}${total ? ` of ${formatBytes(total)}` : ''}`
            : (code ?? redactUrlsIn((err as Error).message));
  return new AttemptFailure(reason, code !== undefined && RETRY_CODES.has(code));
}

/** fetch refuses user:password in a URL; it travels as basic auth instead, as curl sends it. */
function request(url: string): { url: string; headers: Record<string, string> } {
  const u = new URL(url);
  const headers: Record<string, string> = { 'User-Agent': 'tunespec' };
  if (u.username || u.password) {
    headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  return { url: u.toString(), headers };
}

async function attempt(url: string, agent: Agent, settings: HttpSettings, progress: DownloadProgress): Promise<Uint8Array> {
  let received = 0;
  let total: number | undefined;
  try {
    const req = request(url);
    const res = await undici().fetch(req.url, { dispatcher: agent, headers: req.headers });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      const wait = Math.min(MAX_RETRY_AFTER_SECONDS, retryAfterSeconds(res.headers.get('retry-after')) ?? 0);
      throw new AttemptFailure(`HTTP ${res.status} ${res.statusText}`.trim(), RETRY_STATUSES.has(res.status) || res.status >= 500, res.status, wait);
    }
    total = Number(res.headers.get('content-length')) || undefined;
    const chunks: Uint8Array[] = [];
    for await (const chunk of res.body ?? []) {
      chunks.push(chunk);
      received += chunk.byteLength;
      progress.update(received, total);
    }
    const bytes = new Uint8Array(received);
    let offset = 0;
    for (const c of chunks) bytes.set(c, offset), (offset += c.byteLength);
    return bytes;
  } catch (err) {
    if (err instanceof AttemptFailure) throw err;
    throw networkFailure(err, settings.timeoutSeconds, received, total);
  }
}

/**
 * The bytes at an http(s) URL. Every wait on the network is bounded (connecting, the first byte
 * of the answer, each pause in the body); what may pass (connection errors, timeouts, 408, 429,
 * 5xx) is retried with backoff; a large download shows its progress. A failure is one message
 * naming the URL without its secrets.
 */
export async function httpGet(url: string, opts: HttpGetOptions = {}): Promise<Uint8Array> {
  const settings = opts.settings ?? httpSettings();
  const shown = redactUrl(url);
  const ms = settings.timeoutSeconds * 1000;
  const agent = new (undici().Agent)({ connect: { timeout: ms }, headersTimeout: ms, bodyTimeout: ms });
  const attempts = settings.retries + 1;
  try {
    for (let n = 1; ; n++) {
      const progress = (opts.progress ?? downloadProgress)(shown);
      try {
        const bytes = await attempt(url, agent, settings, progress);
        progress.done(true);
        return bytes;
      } catch (err) {
        progress.done(false);
        const failure = err as AttemptFailure;
        if (!failure.retry || n === attempts) {
          const tries = n > 1 ? ` (${n} attempts)` : '';
          throw new HttpGetError(`cannot fetch ${shown}: ${failure.reason}${tries}`, failure.status);
        }
        await sleep(Math.max(backoffSeconds(n, BACKOFF), failure.waitSeconds) * 1000);
      }
    }
  } finally {
    await agent.destroy();
  }
}
