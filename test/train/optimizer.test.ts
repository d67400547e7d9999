// The optimizer sees exactly the trainable weights: what it keeps state for, what changes in
// training, and what the model calls trainable are the same set, the weights of unfrozen layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as TF from '@tensorflow/tfjs';
import { loadSpec } from '../../src/app/load-spec.ts';
import { tfjsFiles } from '../../src/model/source.ts';
import { selectEngine, type EngineName } from '../../src/engine/backends.ts';
import { kernelsForTraining } from '../../src/engine/kernels.ts';
import { buildModel, disposeVariantModel, loadBase } from '../../src/model/build.ts';
import { planLayers } from '../../src/model/layout.ts';
import { resolveFreezeRanges } from '../../src/spec/layer-refs.ts';
import { fitVariant } from '../../src/train/fit.ts';
import { baseSpec, fakeInfo, sameBytes, tempDir, trainingData, writeSpec } from './helpers.ts';

const MOVING = /\/moving_(mean|variance)$/;

async function check(engineName: EngineName, spec: Record<string, unknown>, expectedTrainable: string[]): Promise<void> {
  const dir = await tempDir();
  const loaded = await loadSpec(await writeSpec(dir, spec));
  const variant = loaded.plan.variants[0].spec;
  const planned = planLayers(loaded.model.layers, loaded.model.cutIndex, variant.head);
  const { frozen } = resolveFreezeRanges(planned, variant.freeze);
  const engine = await selectEngine(engineName, kernelsForTraining(planned, frozen.map((f) => !f)));
  assert.equal(engine.name, engineName);
  const tf = engine.tf;
  const data = await trainingData(loaded);
  const base = await loadBase(tf, tfjsFiles(loaded.model.base));
  const built = buildModel(tf, base, loaded.model.layers[loaded.model.cutIndex].name, variant);
  try {
    const model = built.model;
    const nameOf = new Map(model.weights.map((w) => [w.name, w.originalName]));

    // model.trainableWeights = the weights of the unfrozen layers, batch-norm moving statistics excepted.
    const trainable = model.trainableWeights.map((w) => w.originalName).sort();
    const ofUnfrozen = built.layers
      .filter((_, i) => !built.frozen[i])
      .flatMap((l) => l.weights.map((w) => w.originalName))
      .filter((n) => !MOVING.test(n))
      .sort();
    assert.deepEqual(trainable, ofUnfrozen);
    assert.deepEqual(trainable, [...expectedTrainable].sort());
    for (const [i, layer] of built.layers.entries()) assert.equal(layer.trainable, !built.frozen[i], `${layer.name}.trainable`);

    const before = new Map(model.weights.map((w) => [w.originalName, (w.read().dataSync() as Float32Array).slice()]));
    let optimizerVars: string[] | undefined;
    await fitVariant(
      tf,
      model,
      variant,
      data,
      fakeInfo(loaded, built),
      [
        {
          // After the first step the optimizer has created its slots: one pair per variable it updates.
          onBatchEnd: async (_info, _epoch, batch) => {
            if (batch !== 0) return;
            const weights = await (model.optimizer as TF.Optimizer).getWeights();
            optimizerVars = weights
              .filter((w) => w.name !== 'iter')
              .map((w) => {
                const m = /^(.*)\/[mv]$/.exec(w.name);
                assert.ok(m, `unexpected optimizer slot ${w.name}`);
                const original = nameOf.get(m[1]);
                assert.ok(original, `optimizer holds state for ${m[1]}, which is not a weight of the model`);
                return original;
              });
            tf.dispose(weights.filter((w) => w.name === 'iter').map((w) => w.tensor));
          },
        },
      ],
      new AbortController().signal,
    );
    assert.ok(optimizerVars, 'no batch ran');
    assert.deepEqual([...new Set(optimizerVars)].sort(), trainable, 'the optimizer updates exactly the trainable weights');

    const changed = model.weights
      .filter((w) => !sameBytes(w.read().dataSync() as Float32Array, before.get(w.originalName)!))
      .map((w) => w.originalName)
      .sort();
    assert.deepEqual(changed, trainable, 'the weights that changed are exactly the trainable ones');
  } finally {
    disposeVariantModel(built, base);
  }
}

test('frozen conv base (wasm): only the head is trainable, updated and changed', async () => {
  await check('wasm', baseSpec(), ['head_0_dense/kernel', 'head_0_dense/bias', 'head_1_dense/kernel', 'head_1_dense/bias']);
});

test('conv1, conv2 and every batch norm frozen, conv3 trainable (cpu, conv gradients)', async () => {
  const spec = baseSpec();
  spec.freeze = [{ match: '^(conv[12]|bn\\d)$' }];
  (spec.data as Record<string, unknown>).limit_per_class = 4;
  await check('cpu', spec, ['conv3/kernel', 'conv3/bias', 'head_0_dense/kernel', 'head_0_dense/bias', 'head_1_dense/kernel', 'head_1_dense/bias']);
});
