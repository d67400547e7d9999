import { envNumber } from './env-number.ts';

/** How patient a download is: one timeout for each network wait, and retries for what may pass. */
export interface HttpSettings {
  /** Seconds to connect, to the first byte of the answer, and between bytes of the body. */
  timeoutSeconds: number;
  /** Retries after the first attempt, for connection errors, timeouts, 408, 429 and 5xx. */
  retries: number;
}

export const DEFAULT_HTTP: HttpSettings = { timeoutSeconds: 15, retries: 3 };

export function httpSettings(env: NodeJS.ProcessEnv = process.env): HttpSettings {
  const timeoutSeconds = envNumber(env, 'TUNESPEC_HTTP_TIMEOUT', DEFAULT_HTTP.timeoutSeconds, false);
  return { timeoutSeconds: timeoutSeconds || DEFAULT_HTTP.timeoutSeconds, retries: envNumber(env, 'TUNESPEC_HTTP_RETRIES', DEFAULT_HTTP.retries, true) };
}
