import type { EngineRequest } from '../engine/backends.ts';
import { UsageError } from '../errors.ts';
import type { Io } from './io.ts';
import type { OptionValues } from './options.ts';

/**
 * Wiring of the scaling-out commands (queue mode, array jobs), kept apart from the core commands
 * so the two grow without touching each other; main.ts hands these commands over before its own
 * switch. Their options are declared with every other one in options.ts. Each command's module is
 * imported when it runs, as in main.ts.
 */
type Values = OptionValues;

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

// parseCommandLine has checked it against the table's choices.
const backendOf = (raw: string): EngineRequest => raw as EngineRequest;

function oneSpec(args: string[], command: string): string {
  if (args.length !== 1) throw new UsageError(`${command} takes exactly one spec file`);
  return args[0];
}

/** `plan --emit`, `run --queue`, `worker` and `status`; undefined for everything else. */
export function dispatchScaleOut(command: string, args: string[], v: Values, io: Io): Promise<number> | undefined {
  if (command === 'plan' && v.emit !== undefined) {
    const opt = (flag: 'cpus' | 'parallelism'): number | undefined => (v[flag] === undefined ? undefined : positiveInt(flag, v[flag]));
    const options = {
      target: v.emit, runsDir: v['runs-dir'], backend: backendOf(v.backend), gpus: positiveInt('gpus', v.gpus, 0), cpus: opt('cpus'), memory: v.memory, time: v.time,
      partition: v.partition, image: v.image, mlflowSecret: v['mlflow-secret'], parallelism: opt('parallelism'), retries: positiveInt('attempts', v.attempts) - 1, pvc: v.pvc, workdir: v.workdir,
    };
    const file = oneSpec(args, command);
    return import('./commands/emit.ts').then((m) => m.emitCommand(file, options, io));
  }
  if (command === 'run' && v.queue !== undefined) {
    if (v.index !== undefined || v.only.length || v.force || v.restart) throw new UsageError('--queue runs the whole sweep: --index, --only, --force and --restart do not apply');
    if (v.backend !== 'auto' || v['runs-dir'] !== 'runs' || v['no-feature-cache']) {
      throw new UsageError('--queue hands training to workers: --backend, --runs-dir and --no-feature-cache do not apply (give --backend and --runs-dir to `tunespec worker`)');
    }
    const options = { queue: v.queue, detach: v.detach, trackingUri: v['tracking-uri'], attempts: positiveInt('attempts', v.attempts), backoffMs: seconds('backoff', v.backoff) };
    const file = oneSpec(args, command);
    return import('./commands/queue.ts').then((m) => m.runQueueCommand(file, options, io));
  }
  if (command === 'worker') {
    if (args.length) throw new UsageError('worker takes no arguments: it trains whatever variants are queued');
    if (v.queue === undefined) throw new UsageError('worker needs --queue redis://host:port[/db]');
    const options = {
      queue: v.queue, concurrency: positiveInt('concurrency', v.concurrency), name: v.name, backend: backendOf(v.backend), runsDir: v['runs-dir'], trackingUri: v['tracking-uri'],
      lockDurationMs: seconds('lock-duration', v['lock-duration']), stalledIntervalMs: seconds('stalled-interval', v['stalled-interval']),
    };
    return import('./commands/worker.ts').then((m) => m.workerCommand(options, io));
  }
  if (command === 'status') {
    if (v.queue === undefined) throw new UsageError('status needs --queue redis://host:port[/db]: the queue the sweep was sent to');
    const file = oneSpec(args, command);
    return import('./commands/queue.ts').then((m) => m.statusCommand(file, { queue: v.queue!, trackingUri: v['tracking-uri'] }, io));
  }
  return undefined;
}
