// The built model is what the plan says it is, a head that cannot produce class scores is refused
// with a clear message, and a saved model reloads and predicts as the trained one did.
import { saveToMemory } from '../../src/model/save.ts';
import { tfjsFiles } from '../../src/model/source.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as TF from '@tensorflow/tfjs';
import { loadSpec, type LoadedSpec } from '../../src/app/load-spec.ts';
import { anyTf, selectEngine, type Tf } from '../../src/engine/backends.ts';
import { buildModel, disposeVariantModel, loadBase, type BuiltModel } from '../../src/model/build.ts';
import { planLayers } from '../../src/model/layout.ts';
import { ModelError } from '../../src/errors.ts';
import { evaluate } from '../../src/train/evaluate.ts';
import type { SavedModel } from '../../src/model/save.ts';
import { baseSpec, runSpec, sameBytes, tempDir, trainingData, writeSpec } from '../train/helpers.ts';
import { allRows } from '../../src/data/rows.ts';

async function load(dir: string, patch: (spec: Record<string, any>) => void): Promise<LoadedSpec> {
  const spec = baseSpec() as Record<string, any>;
  patch(spec);
  return loadSpec(await writeSpec(dir, spec));
}

async function withBuilt<T>(tf: Tf, loaded: LoadedSpec, fn: (built: BuiltModel) => T | Promise<T>): Promise<T> {
  const base = await loadBase(tf, tfjsFiles(loaded.model.base));
  const built = buildModel(tf, base, loaded.model.layers[loaded.model.cutIndex].name, loaded.plan.variants[0].spec);
  try {
    return await fn(built);
  } finally {
    disposeVariantModel(built, base);
  }
}

function describe(built: BuiltModel): { name: string; className: string }[] {
  return built.layers.map((l) => ({ name: l.name, className: l.getClassName() }));
}


function reload(tf: Tf, saved: SavedModel): Promise<TF.LayersModel> {
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: saved.modelTopology as TF.io.ModelArtifacts['modelTopology'],
      weightSpecs: saved.weightSpecs as TF.io.WeightsManifestEntry[],
      weightData: saved.weightData,
    }),
  );
}

test('cut by name and by (negative) index keep the same layers', async () => {
  const tf = await anyTf();
  const dir = await tempDir();
  const byName = await load(dir, (s) => (s.base_model.cut = 'flatten'));
  const byNegative = await load(dir, (s) => (s.base_model.cut = -4));
  const byIndex = await load(dir, (s) => (s.base_model.cut = 9));
  assert.equal(byName.model.layers[byName.model.cutIndex].name, 'flatten');
  assert.equal(byNegative.model.cutIndex, byName.model.cutIndex);
  assert.equal(byIndex.model.cutIndex, byName.model.cutIndex);
  const layers = await withBuilt(tf, byName, describe);
  assert.deepEqual(await withBuilt(tf, byNegative, describe), layers);
  assert.deepEqual(await withBuilt(tf, byIndex, describe), layers);
  assert.deepEqual(
    layers.map((l) => l.name),
    ['conv1', 'bn1', 'pool1', 'conv2', 'bn2', 'pool2', 'conv3', 'bn3', 'pool3', 'flatten', 'head_0_dense', 'head_1_dense'],
  );
});

test('the built model has exactly the layers planLayers() lists, names and classes', async () => {
  const tf = await anyTf();
  const dir = await tempDir();
  const heads: [string | number, Record<string, unknown>[]][] = [
    ['flatten', [{ type: 'dense', units: 16, activation: 'relu' }, { type: 'dropout', rate: 0.3 }, { type: 'dense', units: 5, activation: 'softmax' }]],
    [
      'pool3',
      [
        { type: 'batch_norm' },
        { type: 'global_average_pooling', name: 'gap' },
        { type: 'dense', units: 8, name: 'hidden' },
        { type: 'activation', activation: 'relu' },
        { type: 'dense', units: 5, activation: 'softmax', name: 'scores' },
      ],
    ],
    ['bn2', [{ type: 'flatten' }, { type: 'dense', units: 5, activation: 'softmax' }]],
    ['fc1', [{ type: 'dropout' }, { type: 'dense', units: 5, activation: 'softmax' }]],
  ];
  for (const [cut, head] of heads) {
    const loaded = await load(dir, (s) => {
      s.base_model.cut = cut;
      s.head = head;
      s.freeze = [];
    });
    const planned = planLayers(loaded.model.layers, loaded.model.cutIndex, loaded.plan.variants[0].spec.head);
    const built = await withBuilt(tf, loaded, (b) => ({ layers: describe(b), outputs: b.model.outputs[0].shape, frozen: b.frozen }));
    assert.deepEqual(
      built.layers,
      planned.map((p) => ({ name: p.name, className: p.className })),
      `cut ${cut}`,
    );
    assert.deepEqual(built.outputs, [null, 5]);
    assert.equal(built.frozen.length, planned.length);
  }
});

test('a dense head on a 4-D output without flatten is a ModelError that says what to add', async () => {
  const tf = await anyTf();
  const dir = await tempDir();
  // The spec checks do not know shapes: loadSpec accepts this, building refuses it.
  const loaded = await load(dir, (s) => {
    s.base_model.cut = 'pool3';
    s.head = [{ type: 'dense', units: 5, activation: 'softmax' }];
    s.freeze = [{ from: 0, to: 'pool3' }];
  });
  const base = await loadBase(tf, tfjsFiles(loaded.model.base));
  assert.throws(
    () => buildModel(tf, base, 'pool3', loaded.plan.variants[0].spec),
    (err: unknown) => {
      assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
      assert.equal(err.code, 'MODEL');
      assert.match(err.message, /outputs shape \[(null)?, ?3, 3, 5\]/);
      assert.match(err.message, /flatten or global_average_pooling/);
      return true;
    },
  );
  base.dispose();

  // Through a sweep it fails that variant with the same message.
  const run = await runSpec(dir, JSON.parse(loaded.text), 'wasm');
  assert.equal(run.ordered[0].status, 'failed');
  assert.match(run.ordered[0].reason ?? '', /put a flatten or global_average_pooling layer before its dense layers/);
});

test('a saved model reloads with tf.loadLayersModel(fromMemory) and predicts what the in-memory model did', async () => {
  const { tf } = await selectEngine('wasm', []);
  const dir = await tempDir();
  const loaded = await load(dir, (s) => {
    s.head = [{ type: 'dense', units: 16, activation: 'relu' }, { type: 'dropout', rate: 0.5 }, { type: 'dense', units: 5, activation: 'softmax' }];
  });
  const data = await trainingData(loaded);
  const x = tf.tensor(allRows(data.validation.x), [data.validation.y.length, ...data.exampleShape]);
  try {
    await withBuilt(tf, loaded, async (built) => {
      // Move the weights off their initial values first, so a reload that silently re-initialised would show.
      built.model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
      const xs = tf.tensor(allRows(data.train.x), [data.train.y.length, ...data.exampleShape]);
      const ys = tf.oneHot(tf.tensor1d(data.train.y, 'int32'), data.classes);
      await built.model.trainOnBatch(xs, ys);
      tf.dispose([xs, ys]);
      const expected = tf.tidy(() => (built.model.predict(x) as TF.Tensor).dataSync() as Float32Array);
      const saved = await saveToMemory(tf, built.model);
      const again = await reload(tf, saved);
      try {
        assert.deepEqual(
          again.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name),
          built.layers.map((l) => l.name),
        );
        const got = tf.tidy(() => (again.predict(x) as TF.Tensor).dataSync() as Float32Array);
        assert.ok(sameBytes(got, expected), 'the reloaded model predicts differently');
      } finally {
        again.dispose();
      }
    });
  } finally {
    x.dispose();
  }
});

test('every model a sweep returns reloads and scores the validation metrics it reported', async () => {
  const { tf } = await selectEngine('wasm', []);
  const dir = await tempDir();
  const spec = baseSpec();
  spec.sweep = { 'training.learning_rate': [0.001, 0.01] };
  const run = await runSpec(dir, spec, 'wasm');
  const data = await trainingData(run.loaded);
  for (const [i, result] of run.ordered.entries()) {
    assert.equal(result.status, 'completed', result.reason);
    const model = await reload(tf, result.model!);
    try {
      const names = (result.model!.weightSpecs as { name: string }[]).map((w) => w.name);
      assert.ok(names.every((n) => !/_\d+$/.test(n)), `variant ${i}: saved weight names carry tfjs suffixes: ${names.join(', ')}`);
      const e = evaluate(tf, model, data.validation.x, data.exampleShape, data.validation.y, data.classes, 32);
      // The sweep ran the frozen layers on onnxruntime (each batch, no cache here) and the reloaded
      // model runs them in tfjs: the same function, to float rounding.
      assert.ok(Math.abs(e.loss - result.metrics!.val_loss) < 1e-6, `variant ${i}: val_loss of the reloaded model ${e.loss} vs ${result.metrics!.val_loss}`);
      assert.equal(e.accuracy, result.metrics!.val_accuracy, `variant ${i}: val_accuracy of the reloaded model`);
      assert.deepEqual(e.confusion, result.confusion);
    } finally {
      model.dispose();
    }
  }
});
