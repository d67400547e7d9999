import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import * as tf from '@tensorflow/tfjs';
import { saveToMemory } from '../../src/model/save.ts';
import { writeModel } from '../../src/track/local-store.ts';
import { BASE_MODEL, ROOT, QUICKSTART_IMAGES, QUICKSTART_LABELS, tempDir, tunespec } from '../helpers/cli.ts';

/** An image folder as users have them: one sub-folder per class, PNG files, cut from the shipped sample. */
function writeImageFolder(root: string, perClass: number): void {
  const images = gunzipSync(readFileSync(QUICKSTART_IMAGES)).subarray(16);
  const labels = gunzipSync(readFileSync(QUICKSTART_LABELS)).subarray(8);
  const counts = new Map<number, number>();
  labels.forEach((label, i) => {
    const n = counts.get(label) ?? 0;
    if (n >= perClass) return;
    counts.set(label, n + 1);
    const png = new PNG({ width: 28, height: 28 });
    for (let p = 0; p < 784; p++) png.data.set([images[i * 784 + p], images[i * 784 + p], images[i * 784 + p], 255], p * 4);
    mkdirSync(join(root, `class-${label}`), { recursive: true });
    writeFileSync(join(root, `class-${label}`, `${i}.png`), PNG.sync.write(png));
  });
}

test('an image folder with augmentation trains through the CLI, and the run records the class names', () => {
  const dir = tempDir();
  writeImageFolder(join(dir, 'images'), 30);
  writeFileSync(
    join(dir, 'folder.yaml'),
    `name: folder
base_model: { source: ${JSON.stringify(BASE_MODEL)}, cut: flatten }
head:
  - { type: dense, units: 5, activation: softmax }
freeze: [{ from: 0, to: -2 }]
data:
  format: image_folder
  path: images
  height: 28
  width: 28
  channels: 1
  augment: { flip: true, translate: 2, brightness: 0.1 }
training: { epochs: 2, batch_size: 16, learning_rate: 0.003 }
`,
  );
  const r = tunespec(['run', join(dir, 'folder.yaml'), '--runs-dir', join(dir, 'runs')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1 completed/);
  const sweep = join(dir, 'runs', 'folder', readdirSync(join(dir, 'runs', 'folder'))[0]);
  const variant = readdirSync(sweep).find((f) => /^[0-9a-f]{12}$/.test(f))!;
  const status = JSON.parse(readFileSync(join(sweep, variant, 'status.json'), 'utf8'));
  assert.deepEqual(status.data.classNames, ['class-5', 'class-6', 'class-7', 'class-8', 'class-9']);
  assert.equal(status.split.validation, 30); // 20% of 30 per class, stratified
  const params = JSON.parse(readFileSync(join(sweep, variant, 'params.json'), 'utf8'));
  assert.equal(params['data.augment.translate'], '2');
});

test('doctor says which engines load and what auto picks', () => {
  const r = tunespec(['doctor']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^native\s+no\s+@tensorflow\/tfjs-node is not installed$/m);
  assert.match(r.stdout, /^wasm\s+yes\s+/m);
  assert.match(r.stdout, /^cpu\s+yes\s+/m);
  assert.match(r.stdout, /auto for frozen convolutional base, new head: wasm/);
  assert.match(r.stdout, /auto for trainable convolutions: cpu \(auto; .*wasm: lacks Conv2DBackpropFilter/);
  assert.match(r.stdout, /^MLflow: off here/m);
  const dead = tunespec(['doctor'], undefined, { MLFLOW_TRACKING_URI: 'http://carol:pw-SECRET@127.0.0.1:9', MLFLOW_EXPERIMENT_NAME: 'team' });
  assert.match(dead.stdout, /^MLflow: http:\/\/127\.0\.0\.1:9, basic auth, experiment team: does not answer$/m);
  assert.ok(!dead.stdout.includes('SECRET'));
});

test('validate goes on past a spec file that does not exist, and exits 2', () => {
  const r = tunespec(['validate', 'experiments/no-such.yaml', 'experiments/quickstart.yaml']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'tunespec: cannot read spec experiments/no-such.yaml: no such file\n');
  assert.equal(r.stdout, 'experiments/quickstart.yaml: ok (3 variants)\n');
});

// Example specs whose inputs a setup command makes, which the README's `npm test` does not run:
// where an input is absent, that spec's only errors must be the located "absent" lines for it.
const NEEDS_SETUP: { spec: string; inputs: { key: string; path: string; absent: RegExp }[] }[] = [
  {
    // Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist).
    spec: 'experiments/fashion-mnist.yaml',
    inputs: ['images', 'labels'].map((key) => ({
      key: `data.${key}`,
      path: '/usr/share/datasets/fashion-mnist',
      absent: new RegExp(`: data\\.${key}: no such file or folder: /usr/share/datasets/fashion-mnist/train-${key}-`),
    })),
  },
  {
    // `npm run models:text` and `npm run data:text`.
    spec: 'experiments/sentiment.yaml',
    inputs: [
      { key: 'base_model.source', path: join(ROOT, '.cache/models/all-MiniLM-L6-v2'), absent: /: base_model\.source: \.cache\/models\/all-MiniLM-L6-v2 is not a folder/ },
      { key: 'data.path', path: join(ROOT, 'data/text/vader/movie_reviews.csv'), absent: /: data\.path: no such file or folder: data\/text\/vader\/movie_reviews\.csv$/ },
    ],
  },
  {
    // `npm run models:gpt` and `npm run data:text`.
    spec: 'experiments/generation.yaml',
    inputs: [
      { key: 'base_model.source', path: join(ROOT, '.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf'), absent: /: base_model\.source: no such file: \.cache\/models\/SmolLM2-135M-Instruct\.Q4_1\.gguf$/ },
      { key: 'data.path', path: join(ROOT, 'data/text/vader/movie_reviews_chat.jsonl'), absent: /: data\.path: no such file or folder: data\/text\/vader\/movie_reviews_chat\.jsonl$/ },
    ],
  },
];

test('every shipped example spec validates (those whose inputs a setup command makes, up to those inputs)', () => {
  const specs = readdirSync(join(ROOT, 'experiments')).filter((f) => f.endsWith('.yaml')).map((f) => `experiments/${f}`);
  for (const { spec } of NEEDS_SETUP) assert.ok(specs.includes(spec), spec);
  const r = tunespec(['validate', ...specs]);
  const incomplete = NEEDS_SETUP.filter(({ inputs }) => inputs.some((i) => !existsSync(i.path)));
  assert.equal(r.code, incomplete.length ? 1 : 0, r.stderr);
  assert.deepEqual(
    r.stdout.trim().split('\n').map((line) => /^(.*): ok \(\d+ variants?\)$/.exec(line)?.[1]),
    specs.filter((s) => !incomplete.some((n) => n.spec === s)),
  );
  const errors = r.stderr.trim().split('\n').filter(Boolean);
  const expected = incomplete.flatMap(({ spec, inputs }) => inputs.filter((i) => !existsSync(i.path)).map((i) => ({ spec, ...i })));
  assert.equal(errors.length, expected.length, r.stderr);
  for (const e of expected) {
    assert.ok(errors.some((line) => line.startsWith(`${e.spec}:`) && e.absent.test(line)), `${e.spec} ${e.key}:\n${r.stderr}`);
  }
});

test('CSV data trains through the CLI on a tabular base model', async () => {
  const dir = tempDir();
  // A small dense "pre-trained" base for 4 numeric features, saved as users' tfjs models are.
  const input = tf.input({ shape: [4], name: 'input' });
  const hidden = tf.layers.dense({ units: 8, activation: 'relu', name: 'features', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input);
  const out = tf.layers.dense({ units: 2, activation: 'softmax', name: 'old_head' }).apply(hidden) as tf.SymbolicTensor;
  const base = tf.model({ inputs: input, outputs: out });
  await writeModel(join(dir, 'tabular'), await saveToMemory(tf, base));
  base.dispose();
  // Three well-separated classes; the label column comes last and one field is quoted.
  const rows = ['"x1",x2,x3,x4,species'];
  for (let i = 0; i < 90; i++) {
    const c = i % 3;
    rows.push([c + 0.1 * (i % 7), -c + 0.05 * (i % 5), 0.5 * c, 1, `"kind ${c}"`].join(','));
  }
  writeFileSync(join(dir, 'table.csv'), rows.join('\n') + '\n');
  writeFileSync(
    join(dir, 'csv.yaml'),
    `name: tabular
base_model: { source: tabular/model.json, cut: features }
head: [{ type: dense, units: 3, activation: softmax }]
freeze: [{ match: "^features$" }]
data: { format: csv, path: table.csv, label_column: species }
training: { epochs: 30, batch_size: 8, learning_rate: 0.05 }
`,
  );
  const r = tunespec(['run', join(dir, 'csv.yaml'), '--runs-dir', join(dir, 'runs')]);
  assert.equal(r.code, 0, r.stderr);
  const sweep = join(dir, 'runs', 'tabular', readdirSync(join(dir, 'runs', 'tabular'))[0]);
  const variant = readdirSync(sweep).find((f) => /^[0-9a-f]{12}$/.test(f))!;
  const status = JSON.parse(readFileSync(join(sweep, variant, 'status.json'), 'utf8'));
  assert.deepEqual(status.data.classNames, ['kind 0', 'kind 1', 'kind 2']);
  const result = JSON.parse(readFileSync(join(sweep, variant, 'result.json'), 'utf8'));
  assert.ok(result.metrics.val_accuracy > 0.8, `separable classes should be learnt, got ${result.metrics.val_accuracy}`);
});
