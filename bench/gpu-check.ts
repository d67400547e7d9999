// The GPU check: one sweep on native-gpu and the same on native (CPU), examples/s of each.
// Needs an NVIDIA GPU with CUDA 12 and `npm run setup:native -- --gpu` done first, with the
// library paths it prints (.native/ld_library_path) on LD_LIBRARY_PATH.
//   npx tsx bench/gpu-check.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const spec = join(root, 'bench', 'specs', 'gpu-check.yaml');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Examples/s of every epoch after the first (which pays for graph set-up and memory growth). */
function examplesPerSecond(backend: string): number {
  const runs = mkdtempSync(join(tmpdir(), `gpu-check-${backend}-`));
  const r = spawnSync(process.execPath, [join(root, 'bin', 'tunespec.js'), 'run', spec, '--backend', backend, '--runs-dir', runs, '--no-feature-cache'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${backend}: exit ${r.status}\n${r.stdout}`);
  const dirs = (d: string): string[] => readdirSync(d).map((f) => join(d, f)).filter((f) => statSync(f).isDirectory());
  const variant = dirs(dirs(join(runs, 'gpu-check'))[0])[0];
  const epochs = readFileSync(join(variant, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return median(epochs.slice(1).map((e) => e.examples_per_second));
}

spawnSync(process.execPath, [join(root, 'bin', 'tunespec.js'), 'doctor'], { stdio: 'inherit' });
const gpu = examplesPerSecond('native-gpu');
const cpu = examplesPerSecond('native');
console.log(`native-gpu ${gpu.toFixed(0)} examples/s, native (CPU) ${cpu.toFixed(0)} examples/s, ratio ${(gpu / cpu).toFixed(2)} (median of epochs 2-3)`);
