import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { EngineRequest } from '../../engine/backends.ts';
import { parseRedisUrl } from '../../queue/connection.ts';
import { assertReachable } from '../../queue/reach.ts';
import { runWorker } from '../../queue/worker.ts';
import type { Io } from '../io.ts';
import { PACKAGE_ROOT } from '../../package-root.ts';

export interface WorkerCommandOptions {
  queue: string;
  concurrency: number;
  name?: string;
  backend: EngineRequest;
  runsDir: string;
  trackingUri?: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

/** Set for worker processes started by `--concurrency`: they stop when their parent's pipe closes. */
const CHILD_ENV = 'TUNESPEC_WORKER_CHILD';
const BIN = join(PACKAGE_ROOT, 'bin', 'tunespec.js');

/**
 * `--concurrency N` runs N worker processes, one variant each at a time, named `<name>-1` … `<name>-N`.
 * Each child reads its parent's stdin pipe and stops when the pipe closes, so a killed parent
 * (kill -9) does not leave trainers behind that nobody watches.
 */
function startChildren(opts: WorkerCommandOptions, name: string, io: Io): Promise<number> {
  const children: ChildProcess[] = [];
  const args = ['worker', '--queue', opts.queue, '--backend', opts.backend, '--runs-dir', opts.runsDir];
  args.push('--lock-duration', String(opts.lockDurationMs / 1000), '--stalled-interval', String(opts.stalledIntervalMs / 1000));
  if (opts.trackingUri) args.push('--tracking-uri', opts.trackingUri);
  for (let i = 1; i <= opts.concurrency; i++) {
    children.push(
      spawn(process.execPath, [BIN, ...args, '--name', `${name}-${i}`], { stdio: ['pipe', 'inherit', 'inherit'], env: { ...process.env, [CHILD_ENV]: '1' } }),
    );
  }
  const stop = (): void => children.forEach((c) => c.kill('SIGTERM'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return Promise.all(children.map((c) => new Promise<number>((resolve) => c.on('exit', (code) => resolve(code ?? 1))))).then((codes) => {
    io.out(`[${name}] all ${opts.concurrency} worker processes stopped`);
    return Math.max(...codes);
  });
}

export async function workerCommand(opts: WorkerCommandOptions, io: Io): Promise<number> {
  const target = parseRedisUrl(opts.queue);
  await assertReachable(target);
  const name = opts.name ?? `${hostname()}-${process.pid}`;
  if (opts.concurrency > 1) return startChildren(opts, name, io);
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (process.env[CHILD_ENV] === '1') {
    process.stdin.on('end', stop).on('error', stop).resume();
  }
  try {
    await runWorker({ ...opts, name, target, signal: controller.signal, warn: io.err, info: io.out });
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.stdin.pause();
  }
}
