/**
 * The README's quick-start figures, measured rather than typed: trains experiments/quickstart.yaml
 * and its from-scratch baseline, quickstart-scratch.yaml, with the real CLI on the wasm engine (as
 * the README says) into a temporary run store, and writes the table of validation accuracies and
 * the error-rate sentence between the README's quickstart-figures markers. With --check it writes
 * nothing and exits 1 when the README says something else; CI runs that, so the figures cannot
 * drift from what the code gives.
 *
 *   npm run readme:figures [-- --check]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { storedVariants } from '../src/track/local-store.ts';
import { README_FILE, replaceBetween } from './write_schema.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SPECS = { transfer: 'quickstart', scratch: 'quickstart-scratch' } as const;

interface Sweep {
  /** Validation accuracy by learning rate. */
  accuracy: Map<number, number>;
  validation: number;
}

/** A fresh run of `experiments/<name>.yaml`. */
async function measure(name: string, work: string): Promise<Sweep> {
  const runs = join(work, 'runs');
  const env: NodeJS.ProcessEnv = { ...process.env, TUNESPEC_CACHE_DIR: join(work, 'cache'), TUNESPEC_NO_NATIVE_BUILD: '1', FORCE_COLOR: '0' };
  for (const key of Object.keys(env)) if (key.startsWith('MLFLOW_')) delete env[key];
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'tunespec.js'), 'run', `experiments/${name}.yaml`, '--runs-dir', runs, '--backend', 'wasm'], { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tunespec run experiments/${name}.yaml exited ${r.status}:\n${r.stderr}`);
  const [sweep] = readdirSync(join(runs, name));
  const out: Sweep = { accuracy: new Map(), validation: 0 };
  for (const v of await storedVariants(join(runs, name, sweep!))) {
    const lr = Number(/^lr=([\d.e-]+)$/.exec(v.status.label)?.[1]);
    if (v.status.status !== 'completed' || !v.result || !v.status.split || !Number.isFinite(lr)) throw new Error(`${v.dir}: ${v.status.status} (${v.status.label})`);
    out.accuracy.set(lr, v.result.metrics.val_accuracy!);
    out.validation = v.status.split.validation;
  }
  return out;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

function figuresSection({ accuracy: transfer, validation }: Sweep, { accuracy: scratch }: Sweep): string {
  const rates = [...transfer.keys()].sort((a, b) => b - a);
  const rows = rates.map((lr) => `| ${String(lr).padEnd(5)} | ${pct(transfer.get(lr)!)} | ${pct(scratch.get(lr)!)} |`);
  const bestTransfer = Math.max(...transfer.values());
  const bestScratch = Math.max(...scratch.values());
  const cut = Math.round(100 * (1 - (1 - bestTransfer) / (1 - bestScratch)));
  return [
    '| learning rate | transfer (`quickstart.yaml`) | same head on raw pixels (`quickstart-scratch.yaml`) |',
    '|---|---|---|',
    ...rows,
    '',
    `Validation accuracy on the same ${validation} held-out images (same seeded, stratified split). The frozen`,
    `pre-trained features cut the error rate by about ${cut}% (${pct(1 - bestScratch)} → ${pct(1 - bestTransfer)} at the best rate).`,
  ].join('\n');
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tunespec-readme-figures-'));
  try {
    const section = figuresSection(await measure(SPECS.transfer, work), await measure(SPECS.scratch, work));
    const readme = readFileSync(README_FILE, 'utf8');
    const updated = replaceBetween(readme, 'quickstart-figures', section);
    if (!process.argv.includes('--check')) {
      writeFileSync(README_FILE, updated);
      console.log(`README.md quick-start figures:\n${section}`);
    } else if (updated !== readme) {
      console.error(`README.md's quick-start figures are not what the code gives; \`npm run readme:figures\` writes these:\n${section}`);
      process.exitCode = 1;
    } else console.log("README.md's quick-start figures are what the code gives");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
