// The GPU check: one sweep on native-gpu and the same on native (CPU), examples/s of each.
// Needs an NVIDIA GPU with CUDA 12 and `npm run setup:native -- --gpu` done first, with the
// library paths it prints (.native/ld_library_path) on LD_LIBRARY_PATH.
//   npx tsx bench/gpu-check.ts
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './lib/measure.ts';
import { readRunStore } from './lib/run-store.ts';

const root = new URL('..', import.meta.url).pathname;
const spec = join(root, 'bench', 'specs', 'gpu-check.yaml');

/** Examples/s of every epoch after the first (which pays for graph set-up and memory growth). */
function examplesPerSecond(backend: string): number {
  const runs = mkdtempSync(join(tmpdir(), `gpu-check-${backend}-`));
  const r = spawnSync(process.execPath, [join(root, 'bin', 'tunespec.js'), 'run', spec, '--backend', backend, '--runs-dir', runs, '--no-feature-cache'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${backend}: exit ${r.status}\n${r.stdout}`);
  return median(readRunStore(runs)[0]!.examplesPerSecond.slice(1));
}

spawnSync(process.execPath, [join(root, 'bin', 'tunespec.js'), 'doctor'], { stdio: 'inherit' });
const gpu = examplesPerSecond('native-gpu');
const cpu = examplesPerSecond('native');
console.log(`native-gpu ${gpu.toFixed(0)} examples/s, native (CPU) ${cpu.toFixed(0)} examples/s, ratio ${(gpu / cpu).toFixed(2)} (median of epochs 2-3)`);
