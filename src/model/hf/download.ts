import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { ModelError } from '../../errors.ts';

/**
 * One file over HTTP into a local path, hashed as it streams. Every wait is bounded: the response
 * headers by `headersMs`, each gap between body chunks by `idleMs` (a large weight file may take
 * long in total, but never stalls silently). Redirects are followed here rather than by fetch so
 * that credentials never travel to another origin (the Hub sends LFS files to a CDN with a signed
 * URL). Nothing a message shows carries a credential: URLs appear without user info or query.
 *
 * The shared fetch-with-timeouts module (branch net-secrets) should replace the timing part once
 * merged; until then this uses fetch with an AbortController.
 */
export interface Timeouts {
  headersMs: number;
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { headersMs: 30_000, idleMs: 60_000 };

export type DownloadResult =
  | { status: 'downloaded'; sha256: string; etag: string | null; bytes: number }
  | { status: 'not-modified' }
  | { status: 'missing'; httpStatus: number };

const MAX_REDIRECTS = 5;

/** A URL as messages may show it: no user:password, no query string (signed URLs keep their secrets there). */
export function shownUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    const query = u.search ? '?…' : '';
    u.search = '';
    u.hash = '';
    return u.toString() + query;
  } catch {
    return '(an invalid URL)';
  }
}

function failure(what: string, url: string, why: string): ModelError {
  return new ModelError(`cannot fetch ${what} (${shownUrl(url)}): ${why}`, shownUrl(url));
}

/**
 * GET `url` into `dest`. `what` names the file in messages; `headers` may carry Authorization, sent
 * only to `url`'s origin. 404 and 401/403 on a file the caller may do without come back as
 * 'missing' when `optional`; otherwise every non-2xx status is an error naming the file.
 */
export async function download(
  url: string,
  dest: string,
  opts: { what: string; headers?: Record<string, string>; etag?: string | null; optional?: boolean; timeouts?: Timeouts },
): Promise<DownloadResult> {
  const timeouts = opts.timeouts ?? DEFAULT_TIMEOUTS;
  const origin = new URL(url).origin;
  let current = url;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let waiting = '';
  const arm = (ms: number, phase: string) => {
    clearTimeout(timer);
    waiting = `${phase} (no data for ${ms / 1000}s)`;
    timer = setTimeout(() => controller.abort(), ms);
  };
  try {
    let res: Response | undefined;
    let linkedEtag: string | null = null;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...(new URL(current).origin === origin ? opts.headers : {}) };
      if (opts.etag && hop === 0) headers['If-None-Match'] = opts.etag;
      arm(timeouts.headersMs, 'timed out waiting for the response');
      try {
        res = await fetch(current, { headers, redirect: 'manual', signal: controller.signal });
      } catch (err) {
        throw failure(opts.what, url, controller.signal.aborted ? waiting : String((err as Error).cause ?? (err as Error).message));
      }
      // The Hub names an LFS file by its sha256 in X-Linked-Etag on the resolve response, before the CDN hop.
      if (hop === 0) linkedEtag = res.headers.get('x-linked-etag');
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && res.status !== 304 && location) {
        await res.body?.cancel();
        if (hop >= MAX_REDIRECTS) throw failure(opts.what, url, `more than ${MAX_REDIRECTS} redirects`);
        current = new URL(location, current).toString();
        continue;
      }
      break;
    }
    if (res.status === 304) {
      await res.body?.cancel();
      return { status: 'not-modified' };
    }
    if (!res.ok) {
      await res.body?.cancel();
      if (opts.optional && (res.status === 404 || res.status === 401 || res.status === 403)) return { status: 'missing', httpStatus: res.status };
      const hint = res.status === 401 || res.status === 403 ? (opts.headers?.Authorization ? ' (the token was refused)' : ' (a private or gated repository needs HF_TOKEN)') : '';
      throw failure(opts.what, url, `HTTP ${res.status} ${res.statusText}${hint}`);
    }
    const etag = linkedEtag ?? res.headers.get('etag');
    const hash = createHash('sha256');
    const file = await open(dest, 'w');
    let bytes = 0;
    try {
      const reader = res.body!.getReader();
      for (;;) {
        arm(timeouts.idleMs, 'the download stalled');
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw failure(opts.what, url, controller.signal.aborted ? waiting : String((err as Error).cause ?? (err as Error).message));
        }
        if (chunk.done) break;
        hash.update(chunk.value);
        bytes += chunk.value.byteLength;
        await file.write(chunk.value);
      }
    } catch (err) {
      await file.close();
      await rm(dest, { force: true });
      throw err;
    }
    await file.close();
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(length) && length !== bytes) {
      await rm(dest, { force: true });
      throw failure(opts.what, url, `the connection closed after ${bytes} of ${length} bytes`);
    }
    return { status: 'downloaded', sha256: hash.digest('hex'), etag, bytes };
  } finally {
    clearTimeout(timer);
  }
}
