import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine } from '../../src/engine/backends.ts';
import { buildHeadModel } from '../../src/model/build.ts';
import { checkStructure } from '../../src/spec/structure.ts';
import { maskedPooling, POOLING_CLASS, registerMaskedPooling, type PoolingMode } from '../../src/model/layers/masked-pooling.ts';

const B = 3;
const T = 5;
const W = 4;
const MASK = [
  [1, 1, 1, 0, 0],
  [1, 1, 1, 1, 1],
  [1, 0, 0, 0, 0],
];

/** Deterministic hidden states; `padding` fills the masked positions. */
function hiddenStates(padding: (b: number, t: number, w: number) => number): number[][][] {
  return Array.from({ length: B }, (_, b) =>
    Array.from({ length: T }, (_, t) => Array.from({ length: W }, (_, w) => (MASK[b]![t] ? Math.sin(1 + b * 31 + t * 7 + w * 3) * 3 : padding(b, t, w)))),
  );
}

/** The same pooling written out element by element, without tensors. */
function expected(h: number[][][], mode: PoolingMode): number[] {
  return h.flatMap((rows, b) => {
    const real = rows.filter((_, t) => MASK[b]![t]);
    return Array.from({ length: W }, (_, w) => {
      const column = real.map((r) => r[w]!);
      if (mode === 'cls') return rows[0]![w]!;
      if (mode === 'max') return Math.max(...column);
      return column.reduce((a, c) => a + c, 0) / column.length;
    });
  });
}

async function engine(): Promise<typeof TF> {
  return (await selectEngine('wasm', [])).tf;
}

function pool(tf: typeof TF, mode: PoolingMode, h: number[][][]): Float32Array {
  const layer = maskedPooling(tf, { mode });
  return tf.tidy(() => (layer.apply([tf.tensor3d(h), tf.tensor2d(MASK, undefined, 'int32')]) as TF.Tensor).dataSync() as Float32Array);
}

test('cls, mean and max equal an element-by-element computation over the real tokens', async () => {
  const tf = await engine();
  const h = hiddenStates(() => 100);
  for (const mode of ['cls', 'mean', 'max'] as const) {
    const got = pool(tf, mode, h);
    const want = expected(h, mode);
    assert.equal(got.length, B * W);
    want.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-5, `${mode}[${i}]: ${got[i]} vs ${v}`));
  }
});

test('masked positions never affect the result or receive gradient, whatever they hold', async () => {
  const tf = await engine();
  const before = tf.memory().numTensors;
  const paddings: ((b: number, t: number, w: number) => number)[] = [() => 0, () => 1e6, () => -1e6, (b, t, w) => Math.cos(b + t + w) * 50, () => NaN, () => Infinity];
  for (const mode of ['cls', 'mean', 'max'] as const) {
    const reference = pool(tf, mode, hiddenStates(paddings[0]!));
    for (const padding of paddings.slice(1)) assert.deepEqual(pool(tf, mode, hiddenStates(padding)), reference, `${mode} with padding ${padding}`);
    const layer = maskedPooling(tf, { mode });
    const grad = tf.tidy(() => {
      const mask = tf.tensor2d(MASK, undefined, 'int32');
      const g = tf.grad((h: TF.Tensor) => tf.sum(tf.mul(layer.apply([h, mask]) as TF.Tensor, tf.range(1, W + 1))))(tf.tensor3d(hiddenStates(() => 7)));
      return g.arraySync() as number[][][];
    });
    grad.forEach((rows, b) => rows.forEach((row, t) => {
      if (!MASK[b]![t]) assert.deepEqual(row, [0, 0, 0, 0], `${mode}: gradient reached padded token ${b},${t}`);
    }));
    assert.ok(grad.flat(2).some((g) => g !== 0), `${mode}: some gradient flows`);
  }
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('a model with the layer saves and loads by its registered class, mode included', async () => {
  const tf = await engine();
  const hidden = tf.input({ shape: [T, W], name: 'hidden_states' });
  const mask = tf.input({ shape: [T], name: 'attention_mask' });
  const pooled = maskedPooling(tf, { mode: 'max', name: 'pool' }).apply([hidden, mask]) as TF.SymbolicTensor;
  assert.deepEqual(pooled.shape, [null, W]);
  const out = tf.layers.dense({ units: 2, activation: 'softmax', name: 'out' }).apply(pooled) as TF.SymbolicTensor;
  const model = tf.model({ inputs: [hidden, mask], outputs: out });
  let saved: TF.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const topology = JSON.stringify(saved!.modelTopology);
  assert.match(topology, new RegExp(`"class_name":"${POOLING_CLASS}","config":\\{[^}]*"mode":"max"`));
  registerMaskedPooling(tf);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
  const inputs = [tf.tensor3d(hiddenStates(() => 5)), tf.tensor2d(MASK)];
  const [a, b] = [model, loaded].map((m) => (m.predict(inputs) as TF.Tensor).dataSync());
  assert.deepEqual(Array.from(b!), Array.from(a!));
  assert.equal((loaded.getLayer('pool') as unknown as { mode: string }).mode, 'max');
  tf.dispose(inputs);
  model.dispose();
  loaded.dispose();
});

test('a wrong mode or wrong inputs are refused with what the layer takes', async () => {
  const tf = await engine();
  assert.throws(() => maskedPooling(tf, { mode: 'sum' as PoolingMode }), /pooling mode must be cls, mean or max; got "sum"/);
  const flat = tf.input({ shape: [W] });
  assert.throws(() => maskedPooling(tf, { mode: 'mean' }).apply([flat, tf.input({ shape: [T] })]), /pooling takes \[hidden states of shape \[batch, tokens, width\], attention mask of shape \[batch, tokens\]\]/);
});

test('a pooling head without an attention mask is refused when the model is built, never half-built', async () => {
  const tf = await engine();
  const { spec } = checkStructure({
    name: 'pool',
    base_model: { source: 'unused/model.json' },
    head: [{ type: 'pooling', mode: 'mean' }, { type: 'dense', units: 2, activation: 'softmax' }],
    data: { format: 'text', path: 'unused.csv' },
    training: { epochs: 1, learning_rate: 0.001 },
  });
  const before = tf.memory().numTensors;
  assert.throws(() => buildHeadModel(tf, [T, W], [], spec!), { code: 'MODEL', message: /pooling needs a text encoder's hidden states and attention mask/ });
  assert.equal(tf.memory().numTensors, before);
});
