import { randomInt } from 'node:crypto';

/** How far apart retries are: the shape of urllib3's backoff, which MLflow's client and tunespec's downloads share. */
export interface Backoff {
  backoffFactor: number;
  backoffJitter: number;
}

/** Statuses the Python client retries (mlflow/utils/request_utils.py); every other 4xx is final. */
export const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

const MAX_BACKOFF_SECONDS = 120;

/**
 * Seconds to wait before retry number `retry` (1-based), as urllib3 counts: no wait before the
 * first, then factor * 2^(retry-1), capped at 120 s, plus up to `jitter` seconds. The jitter comes
 * from crypto, not Math.random: uploads interleave with training, whose dropout and initialisers
 * draw from a seeded Math.random that must not be disturbed.
 */
export function backoffSeconds(retry: number, policy: Backoff): number {
  const base = retry <= 1 ? 0 : Math.min(MAX_BACKOFF_SECONDS, policy.backoffFactor * 2 ** (retry - 1));
  return base + (randomInt(1_000_000) / 1_000_000) * policy.backoffJitter;
}

/** `Retry-After` as seconds (delta or HTTP date); undefined when absent or unreadable. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}
