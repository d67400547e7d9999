// One sweep on the real all-MiniLM-L6-v2 (`npm run models:text`; .ci/run fetches it), through the
// real CLI as a user runs it: the top block and the head trained on the 64 short reviews, the
// frozen embeddings and blocks 0-4 run once on onnxruntime and cached, model.onnx exported with
// its parity, then predict and evaluate. The tiny BERT covers the rest (text-run.test.ts); this
// file is what shows that the 22.7M-parameter checkpoint trains end to end, and it is kept small
// (16 tokens, one epoch) so that it costs about a minute of CPU.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir, tunespec } from '../helpers/cli.ts';
import { assertTextVariant } from '../helpers/text-variant.ts';

const MINILM = join(ROOT, '.cache', 'models', 'all-MiniLM-L6-v2');
const REVIEWS = join(ROOT, 'test', 'fixtures', 'text', 'reviews-64.csv');
const absent = !existsSync(join(MINILM, 'model.safetensors')) && `${MINILM} is absent: run \`npm run models:text\``;

const dir = tempDir('tunespec-minilm-run-');
after(() => rmSync(dir, { recursive: true, force: true }));
const runs = join(dir, 'runs');
const spec = join(dir, 'minilm.yaml');
writeFileSync(
  spec,
  `name: minilm
base_model:
  source: ${JSON.stringify(MINILM)}
  cut: encoder.layer.5
head:
  - { type: pooling, mode: mean }
  - { type: dense, units: 2, activation: softmax }
freeze:
  - { from: embeddings, to: encoder.layer.4 }
data:
  format: text
  path: ${JSON.stringify(REVIEWS)}
  max_length: 16
validation: { fraction: 0.25, seed: 3 }
training:
  epochs: 1
  batch_size: 16
  optimizer: adamw
  learning_rate: 0.001
  weight_decay: 0.01
  seed: 1
sweep:
  training.learning_rate: [0.001, 0.003]
`,
);

function variantDirs(): string[] {
  const sweepRoot = join(runs, 'minilm');
  return readdirSync(sweepRoot).flatMap((s) => readdirSync(join(sweepRoot, s)).filter((v) => v !== 'sweep.json' && !v.includes('.')).map((v) => join(sweepRoot, s, v)));
}

test('all-MiniLM-L6-v2: a sweep trains the top block from cached frozen blocks, exports model.onnx with its parity, and the best variant predicts and evaluates', { skip: absent }, () => {
  const r = tunespec(['run', spec, '--runs-dir', runs], dir);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /2 completed, 0 skipped, 0 failed/);
  assert.match(r.stdout, /\[1\/2\] .*feature cache miss: features of encoder\.layer\.4 computed from the input in [\d.]+s \(onnxruntime-node [\d.]+\) and cached/);
  assert.match(r.stdout, /\[2\/2\] .*feature cache hit: features of encoder\.layer\.4 from the cache/);
  const dirs = variantDirs();
  assert.equal(dirs.length, 2);
  const accuracies: number[] = [];
  for (const d of dirs) accuracies.push(assertTextVariant(d, MINILM).val_accuracy);
  // MiniLM's sentence vectors separate "wonderful" from "hated" before any training; three steps
  // on them must land the best variant well above chance on the 16 held-out reviews.
  assert.ok(Math.max(...accuracies) >= 0.75, `val_accuracy ${accuracies.join(', ')}`);

  const best = tunespec(['runs', spec, '--runs-dir', runs], dir);
  assert.equal(best.code, 0, best.stderr);
  assert.match(best.stdout, /best: [0-9a-f]{12} \(lr=0\.00[13]\) val_accuracy/);
  const texts = ['The film was absolutely wonderful.', 'The film was hated by everyone.'];
  const p = tunespec(['predict', 'best', '--spec', spec, '--runs-dir', runs, '--json', ...texts], dir);
  assert.equal(p.code, 0, p.stderr);
  const tfjs = JSON.parse(p.stdout).predictions as { input: string; top: { name: string; probability: number }[] }[];
  assert.deepEqual(tfjs.map((x) => x.input), texts);
  assert.deepEqual(tfjs.map((x) => x.top[0].name), ['pos', 'neg']);
  const o = tunespec(['predict', 'best', '--spec', spec, '--runs-dir', runs, '--engine', 'onnx', '--json', ...texts], dir);
  assert.equal(o.code, 0, o.stderr);
  const onnx = JSON.parse(o.stdout);
  assert.match(onnx.engine, /onnxruntime/);
  onnx.predictions.forEach((x: { top: { name: string; probability: number }[] }, i: number) => {
    assert.equal(x.top[0].name, tfjs[i].top[0].name);
    assert.ok(Math.abs(x.top[0].probability - tfjs[i].top[0].probability) < 1e-4);
  });
  const ev = tunespec(['evaluate', 'best', '--spec', spec, '--runs-dir', runs, '--json', REVIEWS], dir);
  assert.equal(ev.code, 0, ev.stderr);
  const report = JSON.parse(ev.stdout);
  assert.equal(report.examples, 64);
  assert.deepEqual(report.classes.map((c: { name: string }) => c.name), ['neg', 'pos']);
});
