// `auto` falling to the pure-JS cpu engine for convolution backprop (wasm has no such kernels) is
// refused once the first step shows the variant would train past the limit; `--backend cpu` is the
// user saying they mean it. The suite has no native engine (cliEnv), so `auto` lands on cpu here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_MODEL, tempDir, tunespecAsync, writeSmallSpec } from '../helpers/cli.ts';

function convSpec(dir: string): string {
  // Nothing frozen: every convolution of the base trains, so a step needs Conv2DBackpropFilter.
  const model = `base_model:\n  source: ${JSON.stringify(BASE_MODEL)}\n  cut: flatten\nhead:\n  - { type: dense, units: 5, activation: softmax }\nfreeze: []`;
  const file = writeSmallSpec(dir, { name: 'conv-train', epochs: 1, model, sweep: '  training.learning_rate: [0.001]', extra: 'export: { onnx: false }' });
  // 40 examples: one step an epoch, since pure-JS conv backprop is slow even on 28x28 images.
  writeFileSync(file, readFileSync(file, 'utf8').replace('limit_per_class: 60', 'limit_per_class: 8'));
  return file;
}

test('auto on pure-JS cpu for conv backprop is refused past the limit, naming the native setup; --backend cpu trains anyway', async () => {
  const dir = tempDir();
  const spec = convSpec(dir);
  const limit = { TUNESPEC_SLOW_ENGINE_LIMIT: '0' }; // any estimate is over it

  const refused = await tunespecAsync(['run', spec, '--runs-dir', join(dir, 'runs-auto')], undefined, limit);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stdout, /engine cpu \(auto; skipped .*wasm: lacks [^)]*Conv2DBackpropFilter/);
  assert.match(refused.stdout, /failed in [\d.]+s: not training: auto picked the pure-JS cpu engine for convolution backprop .*its first step took [\d.]+ s, so its \d+ steps would take about .*npm run setup:native.*--backend cpu/);
  const sweepDir = join(dir, 'runs-auto', 'conv-train', readdirSync(join(dir, 'runs-auto', 'conv-train'))[0]);
  const [variant] = readdirSync(sweepDir).filter((e) => /^[0-9a-f]{12}$/.test(e));
  assert.equal(JSON.parse(readFileSync(join(sweepDir, variant, 'status.json'), 'utf8')).status, 'failed');

  const forced = await tunespecAsync(['run', spec, '--runs-dir', join(dir, 'runs-cpu'), '--backend', 'cpu'], undefined, limit);
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  assert.match(forced.stdout, /engine cpu \(requested\)/);
  assert.match(forced.stdout, /1 completed, 0 skipped, 0 failed/);
});
