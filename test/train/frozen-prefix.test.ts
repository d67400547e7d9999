// Without cached features (augmentation here), the frozen layers run on onnxruntime each batch and
// tfjs trains only the layers after them: the same training as the whole model end to end in tfjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSpec } from '../../src/app/load-spec.ts';
import { tfjsFiles } from '../../src/model/source.ts';
import { selectEngine } from '../../src/engine/backends.ts';
import { buildModel, disposeVariantModel, loadBase } from '../../src/model/build.ts';
import { fitVariant } from '../../src/train/fit.ts';
import type { EpochMetrics, VariantInfo } from '../../src/train/events.ts';
import { baseSpec, fakeInfo, runSpecFile, tempDir, testEngine, trainingData, writeSpec } from './helpers.ts';

const METRICS = ['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const;

test('augmented training with the frozen layers on onnxruntime each batch matches the whole model trained in tfjs', async () => {
  const dir = await tempDir();
  const small = baseSpec();
  const spec = {
    ...small,
    base_model: { ...(small.base_model as object), cut: 'bn3' },
    head: [{ type: 'activation', activation: 'relu' }, { type: 'global_average_pooling' }, { type: 'dense', units: 5, activation: 'softmax' }],
    freeze: [{ from: 0, to: 'bn3' }],
    data: { ...(small.data as object), augment: { flip: true, translate: 2 } },
    training: { epochs: 2, batch_size: 16, optimizer: 'adam', learning_rate: 0.01, seed: 42 },
  };
  const file = await writeSpec(dir, spec);
  const loaded = await loadSpec(file);
  const variant = loaded.plan.variants[0].spec;

  const perBatch: EpochMetrics[] = [];
  let info: VariantInfo | undefined;
  const run = await runSpecFile(file, 'cpu', [{ onVariantStart: (i) => void (info = i), onEpochEnd: (_i, _e, m) => void perBatch.push(m) }]);
  assert.equal(run.ordered[0].status, 'completed', run.ordered[0].reason);
  assert.match(info!.featureCache.detail, /: frozen layers up to head_1_global_average_pooling run on onnxruntime each batch \(onnxruntime-node /);
  assert.equal(info!.trainableParams, 64 * 5 + 5);

  // The reference: the whole model, raw rows, augmentation and all, in tfjs.
  const engine = await selectEngine(testEngine('cpu'), []);
  const base = await loadBase(engine.tf, tfjsFiles(loaded.model.base));
  const built = buildModel(engine.tf, base, 'bn3', variant);
  const whole: EpochMetrics[] = [];
  try {
    await fitVariant(engine.tf, built.model, variant, await trainingData(loaded), fakeInfo(loaded, built), [{ onEpochEnd: (_i, _e, m) => void whole.push(m) }], new AbortController().signal);
  } finally {
    disposeVariantModel(built, base);
  }
  assert.equal(perBatch.length, 2);
  assert.equal(whole.length, 2);
  whole.forEach((w, e) => {
    for (const m of METRICS) assert.ok(Math.abs(w[m] - perBatch[e][m]) < 1e-4, `epoch ${e + 1} ${m}: ${w[m]} end to end vs ${perBatch[e][m]} per batch`);
  });
});
