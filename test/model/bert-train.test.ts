// The encoder trains: the explicit-transpose matmul gradient equals autograd's own, a training
// step moves the trainable block and leaves frozen layers bit-identical, dropout runs only when
// training, and the model's topology serialises and reloads through the registered layer classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine } from '../../src/engine/backends.ts';
import { matMul } from '../../src/model/families/bert/ops.ts';
import { loadHfEncoder } from '../../src/model/hf/encoder.ts';
import { ROOT } from '../helpers/cli.ts';

const TINY = join(ROOT, 'test', 'fixtures', 'text', 'tiny-bert');

test('the matmul gradient with explicit transposes equals autograd on tf.matMul (rank 2 and rank 4)', async () => {
  const { tf } = await selectEngine('wasm', []);
  for (const [a, b] of [
    [[5, 3], [3, 4]],
    [[2, 3, 5, 6], [2, 3, 6, 4]],
  ]) {
    const x = tf.randomNormal(a, 0, 1, 'float32', 1);
    const y = tf.randomNormal(b, 0, 1, 'float32', 2);
    const w = tf.randomNormal([...a.slice(0, -1), b[b.length - 1]], 0, 1, 'float32', 3);
    const ours = tf.grads((p: TF.Tensor, q: TF.Tensor) => tf.sum(tf.mul(matMul(tf, p, q), w)))([x, y]);
    const theirs = tf.grads((p: TF.Tensor, q: TF.Tensor) => tf.sum(tf.mul(tf.matMul(p, q), w)))([x, y]);
    for (let i = 0; i < 2; i++) assert.ok(tf.max(tf.abs(tf.sub(ours[i], theirs[i]))).dataSync()[0] < 1e-5, `gradient ${i} of ${a} x ${b}`);
    tf.dispose([x, y, w, ...ours, ...theirs]);
  }
});

test('a training step moves the trainable block and leaves the frozen ones bit-identical', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model } = await loadHfEncoder(tf, TINY);
  try {
    for (const name of ['embeddings', 'encoder.layer.0']) model.getLayer(name).trainable = false;
    const snapshot = () => new Map(model.weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync() as Float32Array)]));
    const before = snapshot();
    const ids = tf.tensor2d([[2, 40, 41, 42, 3, 0], [2, 50, 3, 0, 0, 0]], [2, 6], 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], [2, 6], 'int32');
    const types = tf.zerosLike(ids);
    const optimizer = tf.train.sgd(0.1);
    const vars = model.trainableWeights.map((w) => w.read() as TF.Variable);
    assert.deepEqual([...new Set(model.trainableWeights.map((w) => w.originalName.split('/')[0]))], ['encoder.layer.1', 'pooler']);
    const loss = optimizer.minimize(() => {
      const [hidden, pooled] = model.apply([ids, mask, types], { training: true }) as TF.Tensor[];
      return tf.add(tf.mean(tf.square(hidden)), tf.mean(tf.square(pooled))) as TF.Scalar;
    }, true, vars);
    assert.ok(Number.isFinite(loss!.dataSync()[0]));
    const after = snapshot();
    for (const [name, values] of before) {
      const same = values.every((v, i) => Object.is(v, after.get(name)![i]));
      if (/^(embeddings|encoder\.layer\.0)\//.test(name)) assert.ok(same, `${name} is frozen and must not change`);
      // The key bias adds the same q·b to every score of a query, which softmax ignores: its true gradient is zero.
      else if (!name.endsWith('attention.self.key.bias')) assert.ok(!same, `${name} is trainable and must move`);
    }
    tf.dispose([ids, mask, types, loss!]);
    optimizer.dispose();
  } finally {
    model.dispose();
  }
});

test('dropout runs only in training; the topology serialises and reloads with the same outputs', async () => {
  const { tf } = await selectEngine('wasm', []);
  const { model } = await loadHfEncoder(tf, TINY);
  try {
    const ids = tf.tensor2d([[2, 40, 41, 42, 3]], [1, 5], 'int32');
    const mask = tf.onesLike(ids);
    const types = tf.zerosLike(ids);
    const run = (m: TF.LayersModel, training: boolean) => tf.tidy(() => Array.from((m.apply([ids, mask, types], { training }) as TF.Tensor[])[0].dataSync()));
    assert.deepEqual(run(model, false), run(model, false));
    assert.notDeepEqual(run(model, true), run(model, false));

    const artifacts = await new Promise<TF.io.ModelArtifacts>((resolve) => model.save(tf.io.withSaveHandler(async (a) => (resolve(a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }))));
    const classes = JSON.stringify(artifacts.modelTopology).match(/TunespecBert\w+/g);
    assert.deepEqual([...new Set(classes)].sort(), ['TunespecBertEmbeddings', 'TunespecBertLayer', 'TunespecBertPooler']);
    const reloaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    assert.deepEqual(run(reloaded, false), run(model, false));
    assert.deepEqual(reloaded.layers.map((l) => l.name), model.layers.map((l) => l.name));
    reloaded.dispose();
    tf.dispose([ids, mask, types]);
  } finally {
    model.dispose();
  }
});
