// Child processes for the benches: timed from spawn to exit, with their peak RSS and CPU seconds.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export interface Measured { seconds: number; cpuSeconds: number; rssMiB: number; code: number | null; stdout: string; stderr: string }

const HAVE_TIME = existsSync('/usr/bin/time');
const RSS_WRAPPER =
  'import resource,subprocess,sys\nr=subprocess.run(sys.argv[2:])\n' +
  'u=resource.getrusage(resource.RUSAGE_CHILDREN)\n' +
  'open(sys.argv[1],"w").write(f"{u.ru_maxrss} {u.ru_utime} {u.ru_stime}")\nsys.exit(r.returncode)';

export function measure(cmd: string[], { cwd, env = {} }: { cwd: string; env?: NodeJS.ProcessEnv }): Measured {
  const dir = mkdtempSync(join(tmpdir(), 'bench-rss-'));
  const rssFile = join(dir, 'rss');
  const wrapped = HAVE_TIME ? ['/usr/bin/time', '-f', '%M %U %S', '-o', rssFile, ...cmd] : ['python3', '-c', RSS_WRAPPER, rssFile, ...cmd];
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MLFLOW_')));
  const started = performance.now();
  const r = spawnSync(wrapped[0]!, wrapped.slice(1), {
    cwd,
    encoding: 'utf8',
    maxBuffer: 256 * 2 ** 20,
    env: { ...baseEnv, FORCE_COLOR: '0', ...env },
  });
  const seconds = (performance.now() - started) / 1000;
  // The last line: /usr/bin/time writes "Command exited with non-zero status" before it on failure.
  const usage = (existsSync(rssFile) ? readFileSync(rssFile, 'utf8').trim().split('\n').pop()! : 'NaN NaN NaN').split(/\s+/).map(Number);
  rmSync(dir, { recursive: true, force: true });
  return {
    seconds,
    cpuSeconds: usage[1]! + usage[2]!,
    rssMiB: usage[0]! / 1024,
    code: r.status,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
  };
}
