import { UsageError } from '../../errors.ts';
import { envNumber } from '../../net/env-number.ts';
import { redactUrl } from '../../net/redact.ts';

export type Auth = { kind: 'basic'; username: string; password: string } | { kind: 'bearer'; token: string };

export interface RetryPolicy {
  maxRetries: number;
  backoffFactor: number;
  backoffJitter: number;
  /** Per-attempt timeout. */
  timeoutSeconds: number;
}

export interface TrackingConfig {
  /** Server base URL with any user:password removed: safe to print and to tag runs with. */
  uri: string;
  experiment: string;
  auth?: Auth;
  insecureTls: boolean;
  retry: RetryPolicy;
}

export interface TrackingSources {
  flag?: string;
  spec: { uri?: string; experiment?: string };
  specName: string;
  env: NodeJS.ProcessEnv;
}

/** The same defaults the Python client uses, so a team's environment means the same thing to both. */
export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 7, backoffFactor: 2, backoffJitter: 1, timeoutSeconds: 120 };

function envFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  return ['1', 'true', 'yes'].includes((env[name] ?? '').toLowerCase());
}

/**
 * Tracking is on when some source names a server: `--tracking-uri`, then the spec's `tracking.uri`,
 * then `MLFLOW_TRACKING_URI` (a spec is code, and like `mlflow.set_tracking_uri()` in code it
 * beats the environment). Returns undefined when tracking is off.
 */
export function resolveTrackingConfig(src: TrackingSources): TrackingConfig | undefined {
  const { env } = src;
  const raw = src.flag ?? src.spec.uri ?? (env.MLFLOW_TRACKING_URI || undefined);
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`tracking URI ${redactUrl(raw)} is not a URL; use http(s)://host:port of an MLflow server`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      `tracking URI scheme "${url.protocol}" is not supported: tunespec logs to an MLflow tracking server over HTTP ` +
        `(start one with \`mlflow server --host 127.0.0.1 --port 5000\` and use http://127.0.0.1:5000)`,
    );
  }
  let auth: Auth | undefined;
  if (env.MLFLOW_TRACKING_TOKEN) auth = { kind: 'bearer', token: env.MLFLOW_TRACKING_TOKEN };
  else if (env.MLFLOW_TRACKING_USERNAME || env.MLFLOW_TRACKING_PASSWORD) {
    auth = { kind: 'basic', username: env.MLFLOW_TRACKING_USERNAME ?? '', password: env.MLFLOW_TRACKING_PASSWORD ?? '' };
  } else if (url.username || url.password) {
    auth = { kind: 'basic', username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  }
  return {
    uri: redactUrl(raw),
    experiment: src.spec.experiment ?? (env.MLFLOW_EXPERIMENT_NAME || src.specName),
    auth,
    insecureTls: envFlag(env, 'MLFLOW_TRACKING_INSECURE_TLS'),
    retry: {
      maxRetries: envNumber(env, 'MLFLOW_HTTP_REQUEST_MAX_RETRIES', DEFAULT_RETRY.maxRetries, true),
      backoffFactor: envNumber(env, 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', DEFAULT_RETRY.backoffFactor, false),
      backoffJitter: envNumber(env, 'MLFLOW_HTTP_REQUEST_BACKOFF_JITTER', DEFAULT_RETRY.backoffJitter, false),
      timeoutSeconds: envNumber(env, 'MLFLOW_HTTP_REQUEST_TIMEOUT', DEFAULT_RETRY.timeoutSeconds, false),
    },
  };
}
