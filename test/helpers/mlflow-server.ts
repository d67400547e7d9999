import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './cli.ts';
import { hasExited, killNow, reapWithFile } from './child-reaper.ts';

/** The pinned server from `scripts/setup-mlflow.sh` (npm's pretest), else one on PATH. */
const MLFLOW_BIN = existsSync(join(ROOT, '.venv-mlflow', 'bin', 'mlflow')) ? join(ROOT, '.venv-mlflow', 'bin', 'mlflow') : 'mlflow';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface MlflowServerOptions {
  /** Start the basic-auth app with this admin password (user `admin`). */
  adminPassword?: string;
  /** Port to listen on; a free one when absent. */
  port?: number;
}

/**
 * A real `mlflow server` on loopback with its own SQLite store and artifact folder. `kill()` and
 * `start()` again keep both, the way a crashed and restarted server would.
 */
export class MlflowServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'tunespec-mlflow-'));
  private child?: ChildProcess;
  port = 0;

  constructor(private readonly opts: MlflowServerOptions = {}) {}

  get uri(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.port ||= this.opts.port ?? (await freePort());
    const args = ['server', '--host', '127.0.0.1', '--port', String(this.port), '--workers', '1'];
    args.push('--backend-store-uri', `sqlite:///${join(this.dir, 'mlflow.db')}`, '--artifacts-destination', join(this.dir, 'artifacts'));
    if (this.opts.adminPassword) args.push('--app-name', 'basic-auth');
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MLFLOW_')));
    // The GenAI job runner forks a dozen worker processes tracking never needs: on two cores they
    // starve the server and the training under test.
    env.MLFLOW_SERVER_ENABLE_JOB_EXECUTION = 'false';
    // Telemetry would write an installation id under ~/.config and call out of the machine.
    env.MLFLOW_DISABLE_TELEMETRY = 'true';
    if (this.opts.adminPassword) Object.assign(env, { MLFLOW_AUTH_ADMIN_PASSWORD: this.opts.adminPassword, MLFLOW_FLASK_SERVER_SECRET_KEY: 'tunespec-tests' });
    const log = join(this.dir, 'server.log');
    const { openSync } = await import('node:fs');
    const fd = openSync(log, 'a');
    // Its own process group, so kill() takes the uvicorn workers down with it, as a crash would.
    const child = (this.child = spawn(MLFLOW_BIN, args, { cwd: this.dir, env, detached: true, stdio: ['ignore', fd, fd] }));
    reapWithFile(child, true);
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`mlflow server did not start (${spawnError.message}); \`npm test\` installs it (scripts/setup-mlflow.sh)`);
      if (hasExited(child)) throw new Error(`mlflow server exited while starting:\n${readFileSync(log, 'utf8').slice(-2000)}`);
      const ok = await fetch(`${this.uri}/health`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false);
      if (ok) return this;
      await new Promise((r) => setTimeout(r, 300));
    }
    await this.kill();
    throw new Error(`mlflow server did not answer /health within 120 s:\n${readFileSync(log, 'utf8').slice(-2000)}`);
  }

  /** SIGKILL the whole server: no clean shutdown, like a machine that died. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child?.pid || hasExited(child)) return;
    const gone = new Promise((r) => child.once('exit', r));
    killNow(child, true);
    await gone;
    // The workers of the group may outlive the parent's exit event by a moment.
    for (let i = 0; i < 50 && (await fetch(`${this.uri}/health`).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}

export async function startMlflow(opts: MlflowServerOptions = {}): Promise<MlflowServer> {
  return new MlflowServer(opts).start();
}
