// Without cached features (augmentation, --no-feature-cache), the frozen layers run on onnxruntime
// each batch and tfjs trains only the layers after them: the same training as the whole model end
// to end in tfjs, for an image CNN and for a text encoder's frozen lower blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSpec } from '../../src/app/load-spec.ts';
import { tfjsFiles, type BaseModel } from '../../src/model/source.ts';
import { buildHfVariant } from '../../src/model/families/hf.ts';
import { selectEngine } from '../../src/engine/backends.ts';
import { buildModel, disposeVariantModel, loadBase, type BuiltModel } from '../../src/model/build.ts';
import { fitVariant } from '../../src/train/fit.ts';
import { withSeededMathRandom } from '../../src/train/seeded-random.ts';
import type { EpochMetrics, VariantInfo } from '../../src/train/events.ts';
import { baseSpec, fakeInfo, ROOT, runSpecFile, tempDir, testEngine, trainingData, writeSpec } from './helpers.ts';
import { join } from 'node:path';
import type { LoadedSpec } from '../../src/app/load-spec.ts';
import type { Engine } from '../../src/engine/backends.ts';

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

  const { perBatch, info } = await trainedPerBatch(file);
  assert.match(info.featureCache.detail, /: frozen layers up to head_1_global_average_pooling run on onnxruntime each batch \(onnxruntime-node /);
  assert.equal(info.trainableParams, 64 * 5 + 5);

  // The reference: the whole model, raw rows, augmentation and all, in tfjs.
  const whole = await trainedWhole(loaded, async (engine) => {
    const base = await loadBase(engine.tf, tfjsFiles(loaded.model.base));
    return { built: buildModel(engine.tf, base, 'bn3', variant), base };
  });
  assertSameTraining(whole, perBatch);
});

test('a text encoder without cached features: its frozen blocks run on onnxruntime each batch, training as the whole encoder does in tfjs', async () => {
  const dir = await tempDir();
  const file = await writeSpec(dir, {
    name: 'reviews',
    base_model: { source: join(ROOT, 'test/fixtures/text/tiny-bert'), cut: 'encoder.layer.1' },
    head: [{ type: 'pooling', mode: 'mean' }, { type: 'dense', units: 2, activation: 'softmax' }],
    freeze: [{ from: 'embeddings', to: 'encoder.layer.0' }],
    data: { format: 'text', path: join(ROOT, 'test/fixtures/text/reviews-64.csv'), max_length: 16 },
    validation: { fraction: 0.25, seed: 3 },
    training: { epochs: 2, batch_size: 16, optimizer: 'adamw', learning_rate: 0.003, seed: 1 },
  });
  const loaded = await loadSpec(file);
  const { perBatch, info } = await trainedPerBatch(file);
  assert.match(info.featureCache.detail, /^turned off \(--no-feature-cache\): frozen layers up to encoder\.layer\.0 run on onnxruntime each batch \(onnxruntime-node /);
  assert.equal(info.layers.filter((l) => l.trainable).length, 3, 'encoder.layer.1, the pooling and the dense layer train');

  const base = loaded.model.base as Extract<BaseModel, { format: 'hf' }>;
  const whole = await trainedWhole(loaded, async (engine) => {
    const { encoder, built } = await buildHfVariant(engine.tf, base, loaded.model.layers, loaded.model.cutIndex, loaded.plan.variants[0].spec);
    return { built, base: encoder };
  });
  assertSameTraining(whole, perBatch);
});

/** The spec's one variant as the sweep trains it without a feature cache: its epochs' metrics and what it said. */
async function trainedPerBatch(file: string): Promise<{ perBatch: EpochMetrics[]; info: VariantInfo }> {
  const perBatch: EpochMetrics[] = [];
  let info: VariantInfo | undefined;
  const run = await runSpecFile(file, 'cpu', [{ onVariantStart: (i) => void (info = i), onEpochEnd: (_i, _e, m) => void perBatch.push(m) }]);
  assert.equal(run.ordered[0].status, 'completed', run.ordered[0].reason);
  return { perBatch, info: info! };
}

/** The reference: the variant's whole model trained end to end in tfjs on its raw rows. */
async function trainedWhole(loaded: LoadedSpec, build: (engine: Engine) => Promise<{ built: BuiltModel; base: Parameters<typeof disposeVariantModel>[1] }>): Promise<EpochMetrics[]> {
  const engine = await selectEngine(testEngine('cpu'), []);
  const variant = loaded.plan.variants[0].spec;
  const data = await trainingData(loaded);
  // Seeded as the sweep seeds a variant: the same initial weights and dropout masks.
  return withSeededMathRandom(variant.training.seed, async (random) => {
    const { built, base } = await build(engine);
    const whole: EpochMetrics[] = [];
    try {
      await fitVariant(engine.tf, built.model, variant, data, fakeInfo(loaded, built), [{ onEpochEnd: (_i, _e, m) => void whole.push(m) }], new AbortController().signal, { random });
    } finally {
      disposeVariantModel(built, base);
    }
    return whole;
  });
}

function assertSameTraining(whole: EpochMetrics[], perBatch: EpochMetrics[]): void {
  assert.equal(perBatch.length, 2);
  assert.equal(whole.length, 2);
  whole.forEach((w, e) => {
    for (const m of METRICS) assert.ok(Math.abs(w[m] - perBatch[e][m]) < 1e-4, `epoch ${e + 1} ${m}: ${w[m]} end to end vs ${perBatch[e][m]} per batch`);
  });
}
