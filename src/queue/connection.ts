import type { ConnectionOptions } from 'bullmq';
import { UsageError } from '../errors.ts';
import { redactUrl } from '../net/redact.ts';

/** One queue for every sweep: workers need not know which experiments exist. */
export const QUEUE_NAME = 'tunespec';

export interface RedisTarget {
  /** What to print: the URL with any password removed. */
  shown: string;
  connection: ConnectionOptions;
}

/**
 * `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS) into ioredis options. The
 * password may be in the URL, as Redis clients accept it, but it never reaches output: `shown`
 * is what messages, job data and MLflow tags get.
 */
export function parseRedisUrl(raw: string): RedisTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--queue ${redactUrl(raw)} is not a URL; use redis://host:6379[/db]`);
  }
  const shown = redactUrl(raw);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UsageError(`--queue ${shown}: scheme "${url.protocol}" is not supported; use redis://host:6379[/db] (or rediss:// for TLS)`);
  }
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText && !/^\d+$/.test(dbText)) throw new UsageError(`--queue ${shown}: the path must be a database number (redis://host:6379/0); got "/${dbText}"`);
  const port = url.port ? Number(url.port) : 6379;
  return {
    shown,
    connection: {
      host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
      port,
      db: dbText ? Number(dbText) : 0,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      tls: url.protocol === 'rediss:' ? {} : undefined,
      // BullMQ's blocking commands must not time out; a down server is retried, not fatal.
      maxRetriesPerRequest: null,
    },
  };
}
