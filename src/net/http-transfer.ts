import { setTimeout as sleep } from 'node:timers/promises';
import { undici } from '../lazy-package.ts';
import { downloadProgress, type DownloadProgress } from './download-progress.ts';
import { attempt, AttemptFailure, type AttemptOutcome, type BodySink } from './http-attempt.ts';
import { httpSettings, type HttpSettings } from './http-settings.ts';
import { redactUrl } from './redact.ts';
import { backoffSeconds } from './retry.ts';

export type { BodySink } from './http-attempt.ts';

/** A transfer that failed for good; the message names the URL without its secrets. */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface TransferOptions {
  settings?: HttpSettings;
  /** Progress for this transfer; by default a line on stderr once it is large. */
  progress?: (label: string) => DownloadProgress;
  /** What the URL is, for messages and progress ("config.json of hf://org/name@main"); the URL alone by default. */
  what?: string;
  /** Sent to the URL's origin only (an Authorization header), never to where it redirects elsewhere. */
  headers?: Record<string, string>;
  /** The ETag of a copy already held: an unchanged file comes back as 'not-modified'. */
  etag?: string | null;
  /** 404, 401 and 403 come back as 'missing' instead of failing: a file the caller may do without. */
  optional?: boolean;
}

/** Waits between retries: 0, 2, 4 s… plus up to half a second, urllib3's shape. */
const BACKOFF = { backoffFactor: 1, backoffJitter: 0.5 };

/**
 * GET `url` into fresh sinks until one attempt succeeds. Every wait on the network is bounded by
 * the settings (connecting, the first byte of each answer, each pause in a body); what may pass
 * (connection errors, timeouts, 408, 429, 5xx) is retried with backoff or the server's
 * Retry-After; a large body shows its progress. A failure is one HttpError naming the URL (and
 * `what`) without its secrets.
 */
export async function transfer<T>(url: string, sink: () => Promise<BodySink<T>>, opts: TransferOptions = {}): Promise<AttemptOutcome<T>> {
  const settings = opts.settings ?? httpSettings();
  const shown = redactUrl(url);
  const named = opts.what ? `${opts.what} (${shown})` : shown;
  const ms = settings.timeoutSeconds * 1000;
  const agent = new (undici().Agent)({ connect: { timeout: ms }, headersTimeout: ms, bodyTimeout: ms });
  const attempts = settings.retries + 1;
  const req = { url, headers: opts.headers ?? {}, etag: opts.etag, optional: opts.optional, sink };
  try {
    for (let n = 1; ; n++) {
      const progress = (opts.progress ?? downloadProgress)(opts.what ?? shown);
      try {
        const outcome = await attempt(req, agent, settings.timeoutSeconds, progress);
        progress.done(true);
        return outcome;
      } catch (err) {
        progress.done(false);
        if (!(err instanceof AttemptFailure)) throw err;
        const failure = err;
        if (!failure.retry || n === attempts) {
          const tries = n > 1 ? ` (${n} attempts)` : '';
          throw new HttpError(`cannot fetch ${named}: ${failure.reason}${tries}`, failure.status);
        }
        await sleep(Math.max(backoffSeconds(n, BACKOFF), failure.waitSeconds) * 1000);
      }
    }
  } finally {
    await agent.destroy();
  }
}
