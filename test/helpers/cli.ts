import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import './home.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'tunespec.js');
export const BASE_MODEL = join(ROOT, 'models', 'fashion-base', 'model.json');
export const QUICKSTART_IMAGES = join(ROOT, 'data', 'quickstart', 'images-idx3-ubyte.gz');
export const QUICKSTART_LABELS = join(ROOT, 'data', 'quickstart', 'labels-idx1-ubyte.gz');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type Env = Record<string, string | undefined>;

/** One feature cache per test file, so no test reads entries another file (or the user) made. */
const SUITE_CACHE = mkdtempSync(join(tmpdir(), 'tunespec-cache-'));

/**
 * The environment a user's shell would have, with HOME a temporary folder (./home.ts) and the
 * feature cache this file's own: no MLflow settings unless a test names them, and no
 * native engine built by `npm run setup:native` (the suite asserts the portable engines, as CI
 * has them; a test that wants the native build passes TUNESPEC_NO_NATIVE_BUILD: undefined).
 */
export function cliEnv(extra: Env = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MLFLOW_') && !k.startsWith('TUNESPEC_CACHE')));
  return { ...base, FORCE_COLOR: '0', TUNESPEC_NO_NATIVE_BUILD: '1', TUNESPEC_CACHE_DIR: SUITE_CACHE, ...extra };
}

/** Run the real CLI in a child process, as a user would from `cwd`. */
export function tunespec(args: string[], cwd = ROOT, env?: Env): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: cliEnv(env) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, asynchronously: for tests that serve HTTP from this process or send signals. */
export function tunespecAsync(args: string[], onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void, env?: Env): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      onStdout?.(c, child);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Run the CLI and send it `signal` once its output matches `when` (a user pressing Ctrl-C, or a
 * kill -9, at a known point). `pid` is the signalled process's, 0 if the output never matched.
 */
export async function tunespecSignalled(args: string[], when: RegExp, signal: NodeJS.Signals, env?: Env): Promise<CliResult & { pid: number }> {
  let pid = 0;
  const r = await tunespecAsync(
    args,
    (chunk, child) => {
      if (!pid && when.test(chunk)) {
        pid = child.pid!;
        child.kill(signal);
      }
    },
    env,
  );
  return { ...r, pid };
}

export function tempDir(prefix = 'tunespec-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A small quickstart-like spec (60 examples a class, few epochs) in `dir`, with overrides as YAML text. */
export function writeSmallSpec(
  dir: string,
  opts: { name?: string; source?: string; epochs?: number; sweep?: string; extra?: string; model?: string } = {},
): string {
  const file = join(dir, `${opts.name ?? 'small'}.yaml`);
  // `model` replaces the base_model, head and freeze sections.
  const model =
    opts.model ??
    `base_model:
  source: ${JSON.stringify(opts.source ?? BASE_MODEL)}
  cut: flatten
head:
  - { type: dense, units: 16, activation: relu }
  - { type: dense, units: 5, activation: softmax }
freeze:
  - { from: 0, to: flatten }`;
  writeFileSync(
    file,
    `name: ${opts.name ?? 'small'}
${model}
data:
  format: idx
  images: ${JSON.stringify(QUICKSTART_IMAGES)}
  labels: ${JSON.stringify(QUICKSTART_LABELS)}
  classes: [5, 6, 7, 8, 9]
  limit_per_class: 60
validation: { fraction: 0.25, seed: 3 }
training:
  epochs: ${opts.epochs ?? 2}
  batch_size: 32
  learning_rate: 0.003
  seed: 1
${opts.extra ?? ''}
sweep:
${opts.sweep ?? '  training.learning_rate: [0.01, 0.001]'}
`,
  );
  return file;
}
