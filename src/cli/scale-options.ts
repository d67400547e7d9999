import { UsageError } from '../errors.ts';

/**
 * Options of the scaling-out commands (queue mode, array jobs), kept apart from the core
 * commands' options so the two grow without touching each other; main.ts spreads them in.
 */
export const SCALE_OPTIONS = {
  index: { type: 'string' },
  queue: { type: 'string' },
  detach: { type: 'boolean', default: false },
  attempts: { type: 'string', default: '3' },
  backoff: { type: 'string', default: '10' },
  concurrency: { type: 'string', default: '1' },
  name: { type: 'string' },
  'lock-duration': { type: 'string', default: '30' },
  'stalled-interval': { type: 'string', default: '30' },
  emit: { type: 'string' },
  gpus: { type: 'string', default: '1' },
  cpus: { type: 'string' },
  memory: { type: 'string' },
  time: { type: 'string' },
  partition: { type: 'string' },
  image: { type: 'string' },
  'mlflow-secret': { type: 'string' },
  parallelism: { type: 'string' },
  pvc: { type: 'string' },
  workdir: { type: 'string' },
} as const;

export function positiveInt(flag: string, raw: string, min = 1): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new UsageError(`--${flag} must be an integer ≥ ${min}; got "${raw}"`);
  return Number(raw);
}

/** Seconds as typed (fractions allowed), in milliseconds. */
export function seconds(flag: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a positive number of seconds; got "${raw}"`);
  return Math.round(n * 1000);
}
