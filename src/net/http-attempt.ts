import type { Agent } from 'undici';
import { undici } from '../lazy-package.ts';
import { formatBytes, type DownloadProgress } from './download-progress.ts';
import { redactUrlsIn } from './redact.ts';
import { RETRY_STATUSES, retryAfterSeconds } from './retry.ts';

/** A server's Retry-After is honoured up to this. */
export const MAX_RETRY_AFTER_SECONDS = 30;

const MAX_REDIRECTS = 5;

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
export class AttemptFailure {
  constructor(
    readonly reason: string,
    readonly retry: boolean,
    readonly status?: number,
    readonly waitSeconds = 0,
  ) {}
}

/** Where a body goes as it arrives; made only once a 2xx answer is in, so a 304 or 404 leaves nothing behind. */
export interface BodySink<T> {
  write(chunk: Uint8Array): Promise<void> | void;
  /** The whole body arrived. */
  finish(): Promise<T>;
  /** The attempt failed part-way: drop what was written. */
  discard(): Promise<void>;
}

export interface AttemptRequest<T> {
  /** May carry user:password, sent as basic auth to its own origin only. */
  url: string;
  /** Sent to `url`'s origin only, never to where it redirects elsewhere (a CDN on a signed URL). */
  headers: Record<string, string>;
  /** The ETag of a copy the caller holds: a 304 answer comes back as 'not-modified'. */
  etag?: string | null;
  /** 404, 401 and 403 come back as 'missing' rather than failing. */
  optional?: boolean;
  sink: () => Promise<BodySink<T>>;
}

export type AttemptOutcome<T> =
  | { status: 'ok'; value: T; etag: string | null }
  | { status: 'not-modified' }
  | { status: 'missing'; httpStatus: number };

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
            ? closedAfter(received, total)
            : (code ?? redactUrlsIn((err as Error).message));
  return new AttemptFailure(reason, code !== undefined && RETRY_CODES.has(code));
}

function closedAfter(received: number, total: number | undefined): string {
  return `the connection closed after ${formatBytes(received)}${total ? ` of ${formatBytes(total)}` : ''}`;
}

/** fetch refuses user:password in a URL; it travels as basic auth instead, as curl sends it. */
function withoutUserInfo(url: string): { url: string; auth?: string } {
  const u = new URL(url);
  if (!u.username && !u.password) return { url };
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  u.username = '';
  u.password = '';
  return { url: u.toString(), auth };
}

/**
 * The answer at the end of `req.url`'s redirects. They are followed here, not by fetch, so that
 * credentials (the caller's headers, user:password) reach the first origin only: the Hub sends
 * LFS files to a CDN on a signed URL, which must get no token. Also the ETag a redirect names its
 * target by (the Hub's X-Linked-Etag, the sha256 of an LFS file), which the final answer lacks.
 */
async function follow(req: AttemptRequest<unknown>, agent: Agent): Promise<{ res: Response; linkedEtag: string | null }> {
  const first = withoutUserInfo(req.url);
  const origin = new URL(first.url).origin;
  const credentials = { ...(first.auth ? { Authorization: first.auth } : {}), ...req.headers };
  let current = first.url;
  let linkedEtag: string | null = null;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { 'User-Agent': 'tunespec', ...(new URL(current).origin === origin ? credentials : {}) };
    if (req.etag && hop === 0) headers['If-None-Match'] = req.etag;
    const res = (await undici().fetch(current, { dispatcher: agent, headers, redirect: 'manual' })) as unknown as Response;
    linkedEtag ??= res.headers.get('x-linked-etag');
    const location = res.headers.get('location');
    if (![301, 302, 303, 307, 308].includes(res.status) || !location) return { res, linkedEtag };
    await res.body?.cancel().catch(() => undefined);
    if (hop === MAX_REDIRECTS) throw new AttemptFailure(`more than ${MAX_REDIRECTS} redirects`, false);
    current = new URL(location, current).toString();
  }
}

/**
 * One GET: redirects followed, the answer classified (304, an optional file's absence, a status
 * worth retrying or not), the body streamed into a fresh sink with progress and checked against
 * Content-Length. Every failure is an AttemptFailure; the sink is discarded on any of them.
 */
export async function attempt<T>(req: AttemptRequest<T>, agent: Agent, timeoutSeconds: number, progress: DownloadProgress): Promise<AttemptOutcome<T>> {
  let received = 0;
  let total: number | undefined;
  let sink: BodySink<T> | undefined;
  let inSink = false;
  try {
    const { res, linkedEtag } = await follow(req, agent);
    if (res.status === 304 && req.etag) {
      await res.body?.cancel().catch(() => undefined);
      return { status: 'not-modified' };
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      if (req.optional && [401, 403, 404].includes(res.status)) return { status: 'missing', httpStatus: res.status };
      const wait = Math.min(MAX_RETRY_AFTER_SECONDS, retryAfterSeconds(res.headers.get('retry-after')) ?? 0);
      throw new AttemptFailure(`HTTP ${res.status} ${res.statusText}`.trim(), RETRY_STATUSES.has(res.status) || res.status >= 500, res.status, wait);
    }
    // Content-Length counts the bytes on the wire; fetch hands over decoded ones when they are compressed.
    const encoded = !['', 'identity'].includes((res.headers.get('content-encoding') ?? '').toLowerCase());
    const length = encoded ? undefined : Number(res.headers.get('content-length') ?? NaN);
    total = Number.isFinite(length) ? length : undefined;
    inSink = true;
    sink = await req.sink();
    inSink = false;
    for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
      inSink = true;
      await sink.write(chunk);
      inSink = false;
      received += chunk.byteLength;
      progress.update(received, total);
    }
    if (total !== undefined && received !== total) throw new AttemptFailure(closedAfter(received, total), true);
    inSink = true;
    const value = await sink.finish();
    return { status: 'ok', value, etag: linkedEtag ?? res.headers.get('etag') };
  } catch (err) {
    await sink?.discard().catch(() => undefined);
    // The sink's own failures (a full disk) are not the network's: they pass as they are.
    if (err instanceof AttemptFailure || inSink) throw err;
    throw networkFailure(err, timeoutSeconds, received, total);
  }
}
