import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, cliEnv } from './cli.ts';
import { hasExited, killNow, reapWithFile } from './child-reaper.ts';

export interface Served {
  url: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Sends `signal` and waits for the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** `tunespec serve --port 0` in its own process, stopped with this file however it ends (child-reaper). */
export async function serveRuns(runsDir: string, extra: string[] = [], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--runs-dir', runsDir, ...extra], { env: cliEnv(env) });
  reapWithFile(child);
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 60 s: ${out}${err}`)), 60_000);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /listening on (http:\/\/\S+)\/v1 /.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening: ${out}${err}`));
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    url,
    child,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      if (!hasExited(child)) child.kill(signal);
      const timer = setTimeout(() => killNow(child, false), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

