import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasExited, killNow, reapWithFile } from './child-reaper.ts';
import { ROOT } from './cli.ts';
import { freePort } from './mlflow-server.ts';

/** The pinned binary from `scripts/setup-redis.sh` (npm's pretest), else one on PATH. */
const REDIS_BIN = existsSync(join(ROOT, '.venv-test', 'bin', 'redis-server')) ? join(ROOT, '.venv-test', 'bin', 'redis-server') : 'redis-server';

/**
 * A real `redis-server` on loopback, with no persistence, in its own temporary folder: never the
 * machine's service.
 */
export class RedisServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'tunespec-redis-'));
  private child?: ChildProcess;
  port = 0;

  constructor(private readonly password?: string) {}

  /** The URL clients use, password included when the server has one. */
  get url(): string {
    return `redis://${this.password ? `:${encodeURIComponent(this.password)}@` : ''}127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.port = await freePort();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--logfile', join(this.dir, 'redis.log')];
    if (this.password) args.push('--requirepass', this.password);
    const child = (this.child = spawn(REDIS_BIN, args, { stdio: 'ignore' }));
    reapWithFile(child);
    let failed: Error | undefined;
    child.on('error', (err) => (failed = err));
    for (let i = 0; i < 100; i++) {
      if (failed) throw new Error(`${REDIS_BIN} did not start (${failed.message}); \`npm test\` installs it (scripts/setup-redis.sh)`);
      if (hasExited(child)) throw new Error(`redis-server exited while starting:\n${readFileSync(join(this.dir, 'redis.log'), 'utf8').slice(-2000)}`);
      if (await this.answers()) return this;
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.stop();
    throw new Error(`redis-server did not answer within 10 s:\n${readFileSync(join(this.dir, 'redis.log'), 'utf8').slice(-2000)}`);
  }

  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = createConnection(this.port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid || hasExited(child)) return;
    const gone = new Promise((r) => child.once('exit', r));
    killNow(child, false);
    await gone;
  }
}

export async function startRedis(password?: string): Promise<RedisServer> {
  return new RedisServer(password).start();
}
