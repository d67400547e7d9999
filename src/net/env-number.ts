import { UsageError } from '../errors.ts';

/** A numeric setting from the environment, `fallback` when unset; anything else is a usage error naming the variable. */
export function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, integer: boolean): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${name} must be a non-negative ${integer ? 'integer' : 'number'}; got "${raw}"`);
  }
  return n;
}
