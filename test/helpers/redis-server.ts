import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './mlflow-server.ts';

/**
 * A real `redis-server` (Debian's; `.ci/run` installs it) on loopback, with no persistence, in its
 * own temporary folder: never the machine's service.
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
    this.child = spawn('redis-server', args, { stdio: 'ignore' });
    let failed: Error | undefined;
    this.child.on('error', (err) => (failed = err));
    for (let i = 0; i < 100; i++) {
      if (failed) throw new Error(`redis-server did not start (${failed.message}); install it with apt-get install redis-server`);
      if (await this.answers()) return this;
      await new Promise((r) => setTimeout(r, 100));
    }
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
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
}

export async function startRedis(password?: string): Promise<RedisServer> {
  return new RedisServer(password).start();
}
