// Frozen layers, frozen batch norm included, come out of training bit-identical to the base; every
// trainable weight moves. The second case (batch norm left trainable) shows the check can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalRunStore } from '../../src/track/local-store.ts';
import { loadBase, buildModel, disposeVariantModel } from '../../src/model/build.ts';
import { readModelFiles, resolveModelLocation, type ModelJson, tfjsFiles } from '../../src/model/source.ts';
import type * as TF from '@tensorflow/tfjs';
import { anyTf, selectEngine } from '../../src/engine/backends.ts';
import type { VariantInfo } from '../../src/train/events.ts';
import { BASE_MODEL, baseSpec, runSpec, sameBytes, savedWeights, tempDir, weightsByName, writeSpec, runSpecFile } from './helpers.ts';
import { loadSpec } from '../../src/app/load-spec.ts';

const BN_STATS = ['bn1', 'bn2', 'bn3'].flatMap((l) => [`${l}/moving_mean`, `${l}/moving_variance`]);

async function baseWeights(): Promise<Map<string, Float32Array>> {
  const files = await readModelFiles(resolveModelLocation(BASE_MODEL, '/'));
  return weightsByName(files.weightSpecs, files.weightData);
}

/** The head's weights before training: the seeded initialisers make a rebuild give the same values. */
async function initialHeadWeights(specFile: string): Promise<Map<string, Float32Array>> {
  const tf = await anyTf();
  const loaded = await loadSpec(specFile);
  const base = await loadBase(tf, tfjsFiles(loaded.model.base));
  const built = buildModel(tf, base, loaded.model.layers[loaded.model.cutIndex].name, loaded.plan.variants[0].spec);
  const out = new Map<string, Float32Array>();
  for (const w of built.model.weights) if (w.originalName.startsWith('head_')) out.set(w.originalName, w.read().dataSync() as Float32Array);
  disposeVariantModel(built, base);
  return out;
}

function layerOf(weight: string): string {
  return weight.slice(0, weight.indexOf('/'));
}

test('a frozen conv base, batch norm included, is bit-identical after training; every trainable weight changed', async () => {
  const dir = await tempDir();
  const store = new LocalRunStore(join(dir, 'runs'));
  const infos = new Map<string, VariantInfo>();
  const spec = baseSpec();
  (spec.training as Record<string, unknown>).epochs = 2;
  // Two variants: the second is built while the first's variables have been created in this
  // process, so tfjs gives its variables suffixed names; the saved names must not depend on that.
  spec.sweep = { 'training.learning_rate': [0.001, 0.01] };
  const file = await writeSpec(dir, spec);
  const run = await runSpecFile(file, 'wasm', [store, { onVariantStart: (i) => void infos.set(i.variant.id, i) }]);
  const base = await baseWeights();
  const initial = await initialHeadWeights(file);

  for (const [k, variant] of run.loaded.plan.variants.entries()) {
    const result = run.ordered[k];
    assert.equal(result.status, 'completed', result.reason);
    const info = infos.get(variant.id);
    assert.ok(info);
    const frozenLayers = info.layers.filter((l) => !l.trainable).map((l) => l.name);
    assert.deepEqual(frozenLayers, ['conv1', 'bn1', 'pool1', 'conv2', 'bn2', 'pool2', 'conv3', 'bn3', 'pool3', 'flatten']);

    // The saved model in the result and the one the run store wrote must agree byte for byte.
    const saved = savedWeights(result.model!);
    const modelDir = join(dir, 'runs', 'test', run.loaded.plan.sweepId, variant.id, 'model');
    const storedJson = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8')) as ModelJson;
    const bin = await readFile(join(modelDir, 'weights.bin'));
    const stored = weightsByName(
      storedJson.weightsManifest.flatMap((g) => g.weights),
      bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer,
    );
    assert.deepEqual([...stored.keys()].sort(), [...saved.keys()].sort());
    for (const [name, values] of saved) assert.ok(sameBytes(values, stored.get(name)!), `${variant.label}: ${name}: store and result differ`);

    const baseKept = [...base.keys()].filter((n) => frozenLayers.includes(layerOf(n)));
    assert.ok(BN_STATS.every((n) => baseKept.includes(n)), 'moving statistics are among the compared weights');
    assert.equal(baseKept.length, 18); // conv1..3 kernel+bias, bn1..3 gamma/beta/moving_mean/moving_variance
    for (const name of baseKept) {
      assert.ok(saved.has(name), `${variant.label}: ${name} missing from the saved model (saved: ${[...saved.keys()].join(', ')})`);
      assert.ok(sameBytes(saved.get(name)!, base.get(name)!), `${variant.label}: frozen weight ${name} changed during training`);
    }

    const trainable = [...saved.keys()].filter((n) => !frozenLayers.includes(layerOf(n))).sort();
    assert.deepEqual(trainable, ['head_0_dense/bias', 'head_0_dense/kernel', 'head_1_dense/bias', 'head_1_dense/kernel']);
    for (const name of trainable) assert.ok(!sameBytes(saved.get(name)!, initial.get(name)!), `${variant.label}: trainable weight ${name} did not change`);
  }
});

test('batch norm left trainable (only ^conv frozen) updates gamma, beta and the moving statistics; conv stays put', async () => {
  const dir = await tempDir();
  const spec = { ...baseSpec(), freeze: [{ match: '^conv' }] };
  const run = await runSpec(dir, spec, 'wasm');
  const result = run.ordered[0];
  assert.equal(result.status, 'completed', result.reason);
  const saved = savedWeights(result.model!);
  const base = await baseWeights();
  for (const name of ['conv1', 'conv2', 'conv3'].flatMap((l) => [`${l}/kernel`, `${l}/bias`])) {
    assert.ok(sameBytes(saved.get(name)!, base.get(name)!), `frozen ${name} changed`);
  }
  for (const name of [...BN_STATS, ...['bn1', 'bn2', 'bn3'].flatMap((l) => [`${l}/gamma`, `${l}/beta`])]) {
    assert.ok(!sameBytes(saved.get(name)!, base.get(name)!), `${name} of a trainable batch norm did not change`);
  }
});

test('why buildModel forces frozen batch norm into inference mode: tfjs alone would move its statistics', async () => {
  const { tf } = await selectEngine('wasm', []);
  const files = await readModelFiles(resolveModelLocation(BASE_MODEL, '/'));
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: files.json.modelTopology, weightSpecs: files.weightSpecs as TF.io.WeightsManifestEntry[], weightData: files.weightData }),
  );
  try {
    // Everything but the logits frozen the plain tfjs way, without buildModel's inference-mode call.
    for (const layer of model.layers) layer.trainable = layer.name === 'logits';
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'categoricalCrossentropy' });
    const mean = () => model.getLayer('bn1').getWeights()[2].dataSync().slice() as Float32Array;
    const before = mean();
    const x = tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32'), 5);
    await model.trainOnBatch(x, y);
    tf.dispose([x, y]);
    assert.ok(!sameBytes(mean(), before), 'tfjs kept bn1/moving_mean of a trainable=false layer: the inference-mode override would be unnecessary');
  } finally {
    model.dispose();
  }
});
