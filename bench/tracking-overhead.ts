// What MLflow tracking costs a sweep: the same spec trained with and without a real MLflow server
// (on loopback), alternating, and the ratio of the medians. Run by hand:
//   npx tsx bench/tracking-overhead.ts [spec=experiments/quickstart.yaml] [repeats=3]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT } from '../test/helpers/cli.ts';
import { startMlflow } from '../test/helpers/mlflow-server.ts';
import { median } from './lib/measure.ts';

const spec = process.argv[2] ?? join(ROOT, 'experiments', 'quickstart.yaml');
const repeats = Number(process.argv[3] ?? 3);

function timeRun(env: Record<string, string>): number {
  const runs = mkdtempSync(join(tmpdir(), 'tunespec-bench-'));
  const started = performance.now();
  const r = spawnSync(process.execPath, [BIN, 'run', spec, '--runs-dir', runs], { encoding: 'utf8', env: { ...process.env, ...env } });
  const seconds = (performance.now() - started) / 1000;
  rmSync(runs, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`run failed (${r.status}):\n${r.stderr}`);
  return seconds;
}

const server = await startMlflow();
try {
  const local: number[] = [];
  const tracked: number[] = [];
  for (let i = 0; i < repeats; i++) {
    // Alternate which goes first, so drift on a noisy machine falls on both sides.
    const order = i % 2 ? ['tracked', 'local'] : ['local', 'tracked'];
    for (const kind of order) {
      if (kind === 'local') local.push(timeRun({}));
      else tracked.push(timeRun({ MLFLOW_TRACKING_URI: server.uri, MLFLOW_EXPERIMENT_NAME: `bench-${Date.now()}` }));
    }
    console.log(`round ${i + 1}/${repeats}: local ${local.at(-1)!.toFixed(1)} s, tracked ${tracked.at(-1)!.toFixed(1)} s`);
  }
  const ratio = median(tracked) / median(local);
  console.log(`\n${spec}: median local ${median(local).toFixed(1)} s, median tracked ${median(tracked).toFixed(1)} s, tracked/local ${ratio.toFixed(3)}`);
} finally {
  await server.stop();
}
