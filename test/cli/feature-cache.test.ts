import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BASE_MODEL, tempDir, tunespec, tunespecAsync, writeSmallSpec, type Env } from '../helpers/cli.ts';
import { modelFrom } from '../../src/model/graph.ts';
import { loadDataset } from '../../src/data/dataset.ts';
import { saveToMemory } from '../../src/model/save.ts';
import { writeModel } from '../../src/track/local-store.ts';
import { allRows } from '../../src/data/rows.ts';

interface Stored {
  dir: string;
  status: any;
  epochs: Record<string, number>[];
}

function stored(runs: string): Stored[] {
  const exp = join(runs, readdirSync(runs)[0]);
  const folders = (d: string): string[] => readdirSync(d).map((f) => join(d, f)).filter((f) => statSync(f).isDirectory());
  return folders(exp)
    .flatMap(folders)
    .map((dir) => ({
      dir,
      status: JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')),
      epochs: readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)),
    }))
    .sort((a, b) => a.status.label.localeCompare(b.status.label));
}

function cacheEntries(cache: string): any[] {
  const r = tunespec(['cache', '--json'], undefined, { TUNESPEC_CACHE_DIR: cache });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).entries;
}

function run(spec: string, runs: string, cache: string, extra: string[] = [], env: Env = {}): string {
  const r = tunespec(['run', spec, '--runs-dir', runs, ...extra], undefined, { TUNESPEC_CACHE_DIR: cache, ...env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout;
}

const cacheLines = (out: string): string[] => out.split('\n').filter((l) => l.includes(' feature cache '));

test('cached and uncached training give the same metrics, and the saved model is prefix + trained suffix', async () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const spec = writeSmallSpec(dir, { epochs: 3 });
  const cached = run(spec, join(dir, 'cached'), cache);
  assert.deepEqual(
    cacheLines(cached).map((l) => l.replace(/^.*feature cache /, '').replace(/ in [\d.]+s| [\d.]+s/, '')),
    [
      'miss: features of flatten computed from the input (onnxruntime-node 1.30.0) and cached',
      'hit: features of flatten from the cache, saving (onnxruntime-node 1.30.0)',
    ],
  );
  const uncached = run(spec, join(dir, 'uncached'), cache, ['--no-feature-cache']);
  // The frozen layers still run outside tfjs, on each batch: the same training, the same export.
  assert.match(uncached, /feature cache off: turned off \(--no-feature-cache\): frozen layers up to flatten run on onnxruntime each batch \(onnxruntime-node [\d.]+\)/);
  const a = stored(join(dir, 'cached'));
  const b = stored(join(dir, 'uncached'));
  assert.equal(a.length, 2);
  for (const [i, v] of a.entries()) {
    assert.equal(v.status.featureCache.status, i === 0 ? 'hit' : 'miss'); // sorted by label: lr=0.001 ran second
    assert.equal(v.epochs.length, 3);
    v.epochs.forEach((e, k) => {
      const u = b[i].epochs[k];
      for (const m of ['loss', 'val_loss']) assert.ok(Math.abs(e[m] - u[m]) < 1e-4, `${v.status.label} epoch ${k + 1} ${m}: ${e[m]} vs ${u[m]}`);
      for (const m of ['accuracy', 'val_accuracy']) assert.ok(Math.abs(e[m] - u[m]) < 1e-9 + 1 / 60, `${m}: ${e[m]} vs ${u[m]}`);
    });
  }

  // The stored full model, cut at the cached boundary, maps the cached features to what it maps the raw inputs to.
  const [entry] = cacheEntries(cache);
  const features = new Float32Array(new Uint8Array(readFileSync(join(cache, `${entry.key}.f32`))).buffer);
  const model = await tf.loadLayersModel(`file://${join(a[0].dir, 'model', 'model.json')}`).catch(async () => {
    const json = JSON.parse(readFileSync(join(a[0].dir, 'model', 'model.json'), 'utf8'));
    const weights = readFileSync(join(a[0].dir, 'model', 'weights.bin'));
    return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: new Uint8Array(weights).buffer }));
  });
  const suffix = modelFrom(tf, model, model.getLayer('flatten').output as tf.SymbolicTensor);
  const data = await loadDataset(
    { format: 'idx', images: join('data', 'quickstart', 'images-idx3-ubyte.gz'), labels: join('data', 'quickstart', 'labels-idx1-ubyte.gz'), classes: [5, 6, 7, 8, 9], limit_per_class: 60, scale: 255, augment: {} } as any,
    process.cwd(),
  );
  assert.equal(entry.rows, data.labels.length);
  const full = (model.predict(tf.tensor(allRows(data.rows), [data.labels.length, 28, 28, 1])) as tf.Tensor).dataSync();
  const fromFeatures = (suffix.predict(tf.tensor(features, [entry.rows, ...entry.shape])) as tf.Tensor).dataSync();
  let max = 0;
  for (let i = 0; i < full.length; i++) max = Math.max(max, Math.abs(full[i] - fromFeatures[i]));
  assert.ok(max < 1e-5, `max |diff| ${max}`);
});

test('parameter-free head layers join the cached features: the cache holds pooled rows, the suffix is the dense layer', () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const model = `base_model:
  source: ${JSON.stringify(BASE_MODEL)}
  cut: bn3
head:
  - { type: activation, activation: relu }
  - { type: global_average_pooling }
  - { type: dense, units: 5, activation: softmax }
freeze:
  - { from: 0, to: bn3 }`;
  const spec = writeSmallSpec(dir, { epochs: 2, model, sweep: '  training.learning_rate: [0.01]' });
  const out = run(spec, join(dir, 'cached'), cache);
  assert.match(out, /feature cache miss: features of head_1_global_average_pooling computed from the input/);
  const [entry] = cacheEntries(cache);
  assert.deepEqual(entry.shape, [64]);
  const [cached] = stored(join(dir, 'cached'));
  assert.equal(cached.status.onnx.parity.part, 'head_1_global_average_pooling');
  assert.ok(cached.status.onnx.parity.whole.maxAbsDiff < 1e-5);
  // The layer table still lists the pooling as a head layer; the trainable parameters are the dense layer's.
  const gap = JSON.parse(readFileSync(join(cached.dir, 'layers.json'), 'utf8')).find((l: any) => l.name === 'head_1_global_average_pooling');
  assert.deepEqual([gap.className, gap.params, gap.trainable], ['GlobalAveragePooling2D', 0, true]);
  run(spec, join(dir, 'uncached'), cache, ['--no-feature-cache']);
  const [uncached] = stored(join(dir, 'uncached'));
  cached.epochs.forEach((e, k) => {
    for (const m of ['loss', 'val_loss']) assert.ok(Math.abs(e[m] - uncached.epochs[k][m]) < 1e-4, `epoch ${k + 1} ${m}: ${e[m]} vs ${uncached.epochs[k][m]}`);
  });
});

test('a changed base model, boundary or dataset never hits a stale entry; the same inputs always hit', () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const base = join(dir, 'base');
  cpSync(join(BASE_MODEL, '..'), base, { recursive: true });
  const spec = writeSmallSpec(dir, { source: join(base, 'model.json'), epochs: 1, sweep: '  training.learning_rate: [0.01]' });
  assert.match(run(spec, join(dir, 'r1'), cache), /feature cache miss/);
  assert.match(run(spec, join(dir, 'r2'), cache), /feature cache hit/);
  assert.equal(cacheEntries(cache).length, 1);

  // One float of conv1's kernel changed: the variant id and the cache key both change.
  const weights = readFileSync(join(base, 'weights.bin'));
  weights.writeFloatLE(weights.readFloatLE(0) + 0.5, 0);
  writeFileSync(join(base, 'weights.bin'), weights);
  assert.match(run(spec, join(dir, 'r3'), cache), /feature cache miss/);
  assert.equal(cacheEntries(cache).length, 2);

  // Fewer examples per class: another dataset.
  writeFileSync(spec, readFileSync(spec, 'utf8').replace('limit_per_class: 60', 'limit_per_class: 50'));
  assert.match(run(spec, join(dir, 'r4'), cache), /feature cache miss/);
  assert.equal(cacheEntries(cache).length, 3);

  // Two boundaries over new data: the shallower (conv3; bn3 trains) is computed from the input, the
  // deeper one from it; each is its own entry. Frozen up to bn3, the parameter-free pool3 and
  // flatten join the frozen part: the same features as frozen up to flatten, one entry.
  writeFileSync(spec, readFileSync(spec, 'utf8').replace('limit_per_class: 50', 'limit_per_class: 40').replace('  training.learning_rate: [0.01]', '  freeze.0.to: [conv3, bn3, flatten]'));
  const lines = cacheLines(run(spec, join(dir, 'r5'), cache));
  assert.match(lines[0], /freeze\.0\.to=conv3 .*feature cache miss: features of conv3 computed from the input/);
  assert.match(lines[1], /freeze\.0\.to=bn3 .*feature cache miss: features of flatten computed from cached conv3/);
  assert.match(lines[2], /freeze\.0\.to=flatten .*feature cache hit: features of flatten from the cache/);
  assert.deepEqual(cacheEntries(cache).map((e) => e.boundary).sort(), ['conv3', 'flatten', 'flatten', 'flatten', 'flatten']);
});

test('two processes racing on one key both finish with a correct cache', async () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const spec = writeSmallSpec(dir, { epochs: 1 });
  const env = { TUNESPEC_CACHE_DIR: cache };
  const [p, q] = await Promise.all([
    tunespecAsync(['run', spec, '--runs-dir', join(dir, 'p')], undefined, env),
    tunespecAsync(['run', spec, '--runs-dir', join(dir, 'q')], undefined, env),
  ]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(q.code, 0, q.stderr);
  assert.deepEqual(readdirSync(cache).sort().map((f) => f.replace(/^[0-9a-f]+/, 'KEY')), ['KEY.f32', 'KEY.json']);
  assert.match(run(spec, join(dir, 'r'), cache), /feature cache hit/);
  const [a, b, c] = [stored(join(dir, 'p')), stored(join(dir, 'q')), stored(join(dir, 'r'))];
  for (const i of [0, 1]) {
    assert.deepEqual(a[i].epochs.map((e) => e.val_loss), b[i].epochs.map((e) => e.val_loss));
    assert.deepEqual(a[i].epochs.map((e) => e.val_loss), c[i].epochs.map((e) => e.val_loss));
  }
});

test('the size cap evicts the least recently used entry; cache clear empties it', () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const spec = writeSmallSpec(dir, { epochs: 1, sweep: '  training.learning_rate: [0.01]' });
  run(spec, join(dir, 'a'), cache, [], { TUNESPEC_CACHE_MAX: '200K' });
  const first = cacheEntries(cache);
  assert.equal(first.length, 1);
  writeFileSync(spec, readFileSync(spec, 'utf8').replace('limit_per_class: 60', 'limit_per_class: 50'));
  run(spec, join(dir, 'b'), cache, [], { TUNESPEC_CACHE_MAX: '200K' });
  const second = cacheEntries(cache);
  assert.equal(second.length, 1, 'two entries of ~130 KiB do not fit in 200 KiB');
  assert.notEqual(second[0].key, first[0].key);
  assert.equal(second[0].rows, 250);
  const listed = tunespec(['cache'], undefined, { TUNESPEC_CACHE_DIR: cache });
  assert.match(listed.stdout, /1 entry, .* of 10\.0 GiB/);
  assert.match(listed.stdout, /flatten\s+576\s+250/);
  const cleared = tunespec(['cache', 'clear'], undefined, { TUNESPEC_CACHE_DIR: cache });
  assert.match(cleared.stdout, /^removed 1 entry \(.*\) from /);
  assert.equal(cacheEntries(cache).length, 0);
  assert.equal(tunespec(['cache', 'shrink']).code, 2);
});

test('augmentation and a trainable first layer turn the cache off, with the reason', async () => {
  const dir = tempDir();
  const cache = join(dir, 'cache');
  const augmented = writeSmallSpec(dir, { name: 'augmented', epochs: 1, sweep: '  training.learning_rate: [0.01]' });
  writeFileSync(augmented, readFileSync(augmented, 'utf8').replace('  limit_per_class: 60', '  limit_per_class: 60\n  augment: { flip: true }'));
  assert.match(run(augmented, join(dir, 'a'), cache), /feature cache off: input augmentation changes every epoch: frozen layers up to flatten run on onnxruntime each batch/);
  const unfrozen = writeSmallSpec(dir, { name: 'unfrozen', epochs: 1, sweep: '  training.learning_rate: [0.01]' });
  writeFileSync(unfrozen, readFileSync(unfrozen, 'utf8').replace('freeze:\n  - { from: 0, to: flatten }', 'freeze: []'));
  // Training every convolution on the portable engine is slow; the decision is printed before it starts.
  const r = await tunespecAsync(['run', unfrozen, '--runs-dir', join(dir, 'b')], (_, child) => void (/feature cache off/.test(_) && child.kill('SIGKILL')), { TUNESPEC_CACHE_DIR: cache });
  assert.match(r.stdout, /feature cache off: the first layer is trainable, so nothing before it is frozen/);
  assert.equal(cacheEntries(cache).length, 0);
});

test('a frozen layer without an ONNX converter falls back to tfjs, and the variant has no model.onnx but succeeds', async () => {
  const dir = tempDir();
  const input = tf.input({ shape: [28, 28, 1], name: 'input' });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, activation: 'relu', name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.upSampling2d({ size: [2, 2], name: 'upsample' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x });
  await writeModel(join(dir, 'odd'), await saveToMemory(tf, model));
  model.dispose();
  const spec = writeSmallSpec(dir, { source: join(dir, 'odd', 'model.json'), epochs: 1, sweep: '  training.learning_rate: [0.01]' });
  const out = run(spec, join(dir, 'r'), join(dir, 'cache'));
  assert.match(out, /feature cache miss: features of flatten computed from the input in [\d.]+s \(tfjs (cpu|wasm) [^)]*; tfjs because layer "upsample" \(UpSampling2D\) has no ONNX converter\) and cached/);
  assert.match(out, /not exported to ONNX: layer "upsample" \(UpSampling2D\) has no ONNX converter/);
  const [v] = stored(join(dir, 'r'));
  assert.equal(v.status.status, 'completed');
  assert.equal(v.status.onnx.skipped, 'not exported to ONNX: layer "upsample" (UpSampling2D) has no ONNX converter');
  assert.ok(!readdirSync(v.dir).includes('model.onnx'));
  // Without the cache such a prefix cannot run on onnxruntime each batch either: the whole model trains in tfjs.
  const off = run(spec, join(dir, 'off'), join(dir, 'cache'), ['--no-feature-cache']);
  assert.match(off, /feature cache off: turned off \(--no-feature-cache\); the whole model trains in tfjs: layer "upsample" \(UpSampling2D\) has no ONNX converter/);
  assert.equal(stored(join(dir, 'off'))[0].status.status, 'completed');
});

test('export.onnx: false writes no model.onnx; by default it is written with its parity', () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { epochs: 1, sweep: '  training.learning_rate: [0.01]' });
  run(spec, join(dir, 'on'), join(dir, 'cache'));
  const [on] = stored(join(dir, 'on'));
  assert.ok(readdirSync(on.dir).includes('model.onnx'));
  assert.equal(on.status.onnx.parity.rows, 75);
  assert.ok(on.status.onnx.parity.maxAbsDiff < 1e-5);
  assert.equal(on.status.onnx.parity.argmaxAgreement, 1);
  // The head ran on the cached features of every validation row; the whole model on the first 32 raw rows.
  assert.equal(on.status.onnx.parity.part, 'flatten');
  assert.equal(on.status.onnx.parity.whole.rows, 32);
  assert.ok(on.status.onnx.parity.whole.maxAbsDiff < 1e-5);
  writeFileSync(spec, readFileSync(spec, 'utf8') + 'export: { onnx: false }\n');
  const out = run(spec, join(dir, 'off'), join(dir, 'cache'));
  const [off] = stored(join(dir, 'off'));
  assert.equal(off.status.variant, on.status.variant, 'export settings are not part of the variant id');
  assert.ok(!readdirSync(off.dir).includes('model.onnx'));
  assert.doesNotMatch(out, /model\.onnx/);
});

test('non-finite inputs fail the variant instead of training on what onnxruntime makes of them', () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { epochs: 1, sweep: '  training.learning_rate: [0.01]' });
  writeFileSync(spec, readFileSync(spec, 'utf8').replace('  limit_per_class: 60', '  limit_per_class: 60\n  scale: 1.0e-38'));
  const r = tunespec(['run', spec, '--runs-dir', join(dir, 'r')], undefined, { TUNESPEC_CACHE_DIR: join(dir, 'cache') });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /failed in [\d.]+s: the inputs hold \d+ NaN or infinite values \(check data\.scale and base_model\.preprocess\)/);
  assert.equal(cacheEntries(join(dir, 'cache')).length, 0, 'nothing non-finite is cached');
});
