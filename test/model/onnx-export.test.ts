import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { exportOnnx, UnsupportedLayerError } from '../../src/model/onnx/export.ts';
import { OnnxSession } from '../../src/engine/onnx-runtime.ts';

type T = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: T | T[]): T => layer.apply(x) as T;

/** Largest |tfjs − onnxruntime| over a random batch, after exporting the whole model. */
async function parity(model: tf.LayersModel, batch = 5): Promise<number> {
  const shape = model.inputs[0].shape.slice(1) as number[];
  const x = tf.randomNormal([batch, ...shape], 0, 1, 'float32', 7);
  const want = (model.predict(x) as tf.Tensor).dataSync();
  const { bytes } = exportOnnx(model.inputs[0], model.outputs[0]);
  const session = await OnnxSession.load(bytes);
  const got = (await session.run(x.dataSync() as Float32Array, shape, 2)).data;
  await session.dispose();
  x.dispose();
  assert.equal(got.length, want.length);
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i] - got[i]));
  return max;
}

/** Batch norm with non-trivial statistics, so folding it into scale and shift is really checked. */
function randomiseBatchNorm(model: tf.LayersModel): void {
  for (const l of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    const n = l.getWeights()[0].shape[0];
    l.setWeights([tf.randomUniform([n], 0.5, 1.5), tf.randomUniform([n], -0.5, 0.5), tf.randomUniform([n], -0.2, 0.2), tf.randomUniform([n], 0.5, 2)]);
  }
}

test('every supported layer exports and onnxruntime reproduces tfjs', async () => {
  const input = tf.input({ shape: [13, 11, 3] });
  let x = apply(tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 1]] }), input);
  x = apply(tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), x);
  x = apply(tf.layers.batchNormalization(), x);
  const depthwise = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu6' }), x);
  const separable = apply(tf.layers.separableConv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'elu', dilationRate: 1 }), x);
  x = apply(tf.layers.add(), [depthwise, separable]);
  x = apply(tf.layers.reLU({ maxValue: 6 }), x);
  const max = apply(tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }), x);
  const avg = apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x);
  x = apply(tf.layers.concatenate(), [max, avg]);
  x = apply(tf.layers.multiply(), [x, apply(tf.layers.activation({ activation: 'sigmoid' }), x)]);
  x = apply(tf.layers.conv2d({ filters: 6, kernelSize: [2, 3], padding: 'valid', activation: 'tanh', dilationRate: [1, 1] }), x);
  const gap = apply(tf.layers.globalAveragePooling2d({}), x);
  const gmp = apply(tf.layers.globalMaxPooling2d({}), x);
  const flat = apply(tf.layers.dense({ units: 6, activation: 'selu' }), apply(tf.layers.flatten(), x));
  x = apply(tf.layers.concatenate(), [gap, gmp, flat]);
  x = apply(tf.layers.dense({ units: 10, activation: 'swish' }), x);
  x = apply(tf.layers.leakyReLU({ alpha: 0.1 }), x);
  x = apply(tf.layers.dropout({ rate: 0.5 }), x);
  x = apply(tf.layers.reshape({ targetShape: [2, 5] }), x);
  x = apply(tf.layers.flatten(), x);
  const a = apply(tf.layers.dense({ units: 8, activation: 'softplus' }), x);
  const b = apply(tf.layers.dense({ units: 8, activation: 'elu' }), x);
  x = apply(tf.layers.average(), [apply(tf.layers.maximum(), [a, b]), apply(tf.layers.minimum(), [a, b])]);
  x = apply(tf.layers.elu({}), x);
  x = apply(tf.layers.dense({ units: 4, activation: 'softmax' }), x);
  const model = tf.model({ inputs: input, outputs: x });
  randomiseBatchNorm(model);
  assert.ok((await parity(model)) < 1e-5);
});

test('a MobileNetV2-style inverted residual block exports', async () => {
  const input = tf.input({ shape: [32, 32, 3] });
  let x = apply(tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }), input);
  x = apply(tf.layers.reLU({ maxValue: 6 }), apply(tf.layers.batchNormalization({ epsilon: 1e-3 }), x));
  let y = apply(tf.layers.conv2d({ filters: 24, kernelSize: 1, useBias: false }), x);
  y = apply(tf.layers.reLU({ maxValue: 6 }), apply(tf.layers.batchNormalization(), y));
  y = apply(tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }), y);
  y = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', useBias: false }), y);
  y = apply(tf.layers.reLU({ maxValue: 6 }), apply(tf.layers.batchNormalization(), y));
  y = apply(tf.layers.batchNormalization(), apply(tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false }), y));
  let z = apply(tf.layers.conv2d({ filters: 24, kernelSize: 1, useBias: false }), y);
  z = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }), apply(tf.layers.reLU({ maxValue: 6 }), z));
  z = apply(tf.layers.batchNormalization(), apply(tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false }), z));
  x = apply(tf.layers.add(), [y, z]);
  x = apply(tf.layers.dense({ units: 3, activation: 'softmax' }), apply(tf.layers.globalAveragePooling2d({}), x));
  const model = tf.model({ inputs: input, outputs: x });
  randomiseBatchNorm(model);
  assert.ok((await parity(model, 4)) < 1e-5);
});

test('a layer without a converter is named in the error; channels-first convolutions are refused', () => {
  const input = tf.input({ shape: [8, 8, 2] });
  const up = apply(tf.layers.upSampling2d({ size: [2, 2], name: 'grow' }), input);
  assert.throws(() => exportOnnx(input, up), (err: unknown) => err instanceof UnsupportedLayerError && err.message === 'layer "grow" (UpSampling2D) has no ONNX converter');
  const first = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, dataFormat: 'channelsFirst', name: 'cf' }), input);
  assert.throws(() => exportOnnx(input, first), /layer "cf" \(Conv2D\) is channels-first; only channels-last is exported/);
  const gelu = apply(tf.layers.dense({ units: 2, activation: 'gelu' as never, name: 'g' }), apply(tf.layers.flatten(), input));
  assert.throws(() => exportOnnx(input, gelu), /layer "g" \(Dense\) uses activation "gelu", which has no ONNX converter/);
});
