import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { frozenBoundaries } from '../../src/model/frozen-boundary.ts';

/** conv (frozen) → `head` layers → dense: the boundaries found with the head trainable. */
function boundaries(head: (() => tf.layers.Layer)[], throughParameterFree = true): string[] {
  const input = tf.input({ shape: [6, 6, 1] });
  let x = tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv' }).apply(input) as tf.SymbolicTensor;
  for (const make of head) x = make().apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, name: 'dense' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const found = frozenBoundaries(model, layers, layers.map((_, i) => i === 0), { throughParameterFree });
  model.dispose();
  return found.map((b) => b.layer);
}

const gap = () => tf.layers.globalAveragePooling2d({ name: 'gap' });
const relu = () => tf.layers.activation({ activation: 'relu', name: 'relu' });

test('the boundary moves past parameter-free, deterministic head layers to the first layer with something to train', () => {
  assert.deepEqual(boundaries([relu, gap]), ['gap', 'relu', 'conv']);
  assert.deepEqual(boundaries([() => tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }), () => tf.layers.flatten({ name: 'flat' })]), ['flat', 'pool', 'conv']);
  // Without the option (a text encoder's features keep their [tokens, hidden] layout) it stays at the frozen layers.
  assert.deepEqual(boundaries([relu, gap], false), ['conv']);
});

test('dropout (random in training) and batch norm (weights) stop the boundary', () => {
  assert.deepEqual(boundaries([() => tf.layers.dropout({ rate: 0.5, name: 'drop' }), gap]), ['conv']);
  assert.deepEqual(boundaries([relu, () => tf.layers.batchNormalization({ name: 'bn' }), gap]), ['relu', 'conv']);
  assert.deepEqual(boundaries([gap, () => tf.layers.gaussianNoise({ stddev: 0.1, name: 'noise' })]), ['gap', 'conv']);
});

test('the last layer always stays after the boundary, even when it has nothing to train', () => {
  const input = tf.input({ shape: [6, 6, 1] });
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv' }).apply(input) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(conv) as tf.SymbolicTensor;
  const out = tf.layers.activation({ activation: 'softmax', name: 'softmax' }).apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  assert.deepEqual(
    frozenBoundaries(model, layers, [true, false, false], { throughParameterFree: true }).map((b) => b.layer),
    ['gap', 'conv'],
  );
  model.dispose();
});
