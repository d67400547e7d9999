import type * as TF from '@tensorflow/tfjs';
import type { GraphBuilder } from './graph-builder.ts';
import { POOLING_CLASS } from '../layers/masked-pooling.ts';
import { bertEmbeddings } from './bert-embeddings.ts';
import { bertLayer } from './bert-layer.ts';
import { bertPooler } from './bert-pooler.ts';
import { maskedPooling } from './masked-pooling.ts';
import { required, UnsupportedLayerError, weight, type Converter, type LayerCall } from './converter.ts';

export { UnsupportedLayerError, type LayerCall };

const pair = (v: number | number[]): [number, number] => (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v]);

/**
 * TensorFlow's SAME padding puts the odd pixel at the end. Explicit pads from the known input size
 * say so exactly; ONNX's SAME_UPPER means the same where the size is unknown.
 */
function padding(c: LayerCall, kernel: [number, number], strides: [number, number], dilation: [number, number]): Record<string, number[] | string> {
  if (c.config.padding === 'valid') return { pads: [0, 0, 0, 0] };
  if (c.config.padding !== 'same') throw new UnsupportedLayerError(c.layer.name, c.layer.getClassName(), `uses padding "${c.config.padding}"`);
  const [, h, w] = c.inputShapes[0];
  if (h === null || w === null) return { auto_pad: 'SAME_UPPER' };
  const pads = [h, w].map((size, i) => {
    const out = Math.ceil(size / strides[i]);
    const total = Math.max((out - 1) * strides[i] + (kernel[i] - 1) * dilation[i] + 1 - size, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  });
  return { pads: [pads[0][0], pads[1][0], pads[0][1], pads[1][1]] };
}

function channelsLast(c: LayerCall): void {
  if (c.config.dataFormat && c.config.dataFormat !== 'channelsLast') {
    throw new UnsupportedLayerError(c.layer.name, c.layer.getClassName(), 'is channels-first; only channels-last is exported');
  }
}

/** tfjs [kh, kw, in, out] kernels to ONNX [out, in, kh, kw]. */
function convKernel(k: { dims: number[]; values: Float32Array }): { dims: number[]; values: Float32Array } {
  const [kh, kw, cin, cout] = k.dims;
  const out = new Float32Array(k.values.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let ci = 0; ci < cin; ci++)
        for (let co = 0; co < cout; co++) out[((co * cin + ci) * kh + i) * kw + j] = k.values[((i * kw + j) * cin + ci) * cout + co];
  return { dims: [cout, cin, kh, kw], values: out };
}

/** tfjs depthwise [kh, kw, in, mult] to a grouped ONNX kernel [in*mult, 1, kh, kw]; channel c*mult+m, as tfjs orders them. */
function depthwiseKernel(k: { dims: number[]; values: Float32Array }): { dims: number[]; values: Float32Array } {
  const [kh, kw, cin, mult] = k.dims;
  const out = new Float32Array(k.values.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let ci = 0; ci < cin; ci++)
        for (let m = 0; m < mult; m++) out[((ci * mult + m) * kh + i) * kw + j] = k.values[((i * kw + j) * cin + ci) * mult + m];
  return { dims: [cin * mult, 1, kh, kw], values: out };
}

export function activation(b: GraphBuilder, x: string, name: string, fn: string, layer: TF.layers.Layer): string {
  switch (fn) {
    case undefined:
    case null:
    case 'linear':
      return x;
    case 'relu':
      return b.op('Relu', [x], name);
    case 'relu6':
      return clip(b, x, name, 0, 6);
    case 'sigmoid':
      return b.op('Sigmoid', [x], name);
    case 'tanh':
      return b.op('Tanh', [x], name);
    case 'softmax':
      return b.op('Softmax', [x], name, { axis: -1 });
    case 'elu':
      return b.op('Elu', [x], name, {}, { alpha: 1 });
    case 'selu':
      // ONNX's defaults are TensorFlow's constants.
      return b.op('Selu', [x], name);
    case 'softplus':
      return b.op('Softplus', [x], name);
    case 'softsign':
      return b.op('Softsign', [x], name);
    case 'hardSigmoid':
      return b.op('HardSigmoid', [x], name, {}, { alpha: 0.2, beta: 0.5 });
    case 'swish':
    case 'silu':
      return b.op('Mul', [x, b.op('Sigmoid', [x], `${name}_sigmoid`)], name);
    case 'mish':
      return b.op('Mul', [x, b.op('Tanh', [b.op('Softplus', [x], `${name}_softplus`)], `${name}_tanh`)], name);
    default:
      throw new UnsupportedLayerError(layer.name, layer.getClassName(), `uses activation "${fn}", which has no ONNX converter`);
  }
}

function clip(b: GraphBuilder, x: string, name: string, min: number, max: number): string {
  return b.op('Clip', [x, b.weight(`${name}_min`, [], Float32Array.of(min)), b.weight(`${name}_max`, [], Float32Array.of(max))], name);
}

function withBias(c: LayerCall, x: string): string {
  const bias = c.config.useBias === false ? undefined : weight(c.layer, 'bias');
  return bias ? c.b.op('Add', [x, c.b.weight(`${c.layer.name}_bias`, bias.dims, bias.values)], `${c.layer.name}_biased`) : x;
}

function conv(c: LayerCall, kernel: { dims: number[]; values: Float32Array }, group: number, x: string, name: string): string {
  const size = pair(c.config.kernelSize);
  const strides = pair(c.config.strides ?? 1);
  const dilations = pair(c.config.dilationRate ?? 1);
  return c.b.op('Conv', [x, c.b.weight(`${name}_kernel`, kernel.dims, kernel.values)], name, {
    kernel_shape: size,
    strides,
    dilations,
    group,
    ...padding(c, size, strides, dilations),
  });
}

/** Convolutions run NCHW inside a transpose pair; onnxruntime cancels the pairs between adjacent layers. */
function convLayer(c: LayerCall, kernels: (c: LayerCall, x: string) => string): string {
  channelsLast(c);
  const name = c.layer.name;
  const nchw = c.b.toNchw(c.inputs[0], name);
  const y = withBias(c, c.b.toNhwc(kernels(c, nchw), `${name}_conv`));
  return activation(c.b, y, name, c.config.activation, c.layer);
}

function pool(type: 'MaxPool' | 'AveragePool'): Converter {
  return (c) => {
    channelsLast(c);
    const size = pair(c.config.poolSize);
    const strides = pair(c.config.strides ?? c.config.poolSize);
    const name = c.layer.name;
    const y = c.b.op(type, [c.b.toNchw(c.inputs[0], name)], `${name}_pool`, { kernel_shape: size, strides, ...padding(c, size, strides, [1, 1]) });
    return c.b.toNhwc(y, name);
  };
}

function merge(type: string): Converter {
  return (c) => c.inputs.slice(1).reduce((acc, x, i) => c.b.op(type, [acc, x], i === c.inputs.length - 2 ? c.layer.name : `${c.layer.name}_${i}`), c.inputs[0]);
}

const identity: Converter = (c) => c.b.op('Identity', [c.inputs[0]], c.layer.name);

export const CONVERTERS: Record<string, Converter> = {
  Conv2D: (c) => convLayer(c, (c, x) => conv(c, convKernel(required(c.layer, 'kernel')), 1, x, `${c.layer.name}_conv2d`)),
  DepthwiseConv2D: (c) =>
    convLayer(c, (c, x) => {
      const k = required(c.layer, 'depthwise_kernel');
      return conv(c, depthwiseKernel(k), k.dims[2], x, `${c.layer.name}_depthwise`);
    }),
  SeparableConv2D: (c) =>
    convLayer(c, (c, x) => {
      const k = required(c.layer, 'depthwise_kernel');
      const depthwise = conv(c, depthwiseKernel(k), k.dims[2], x, `${c.layer.name}_depthwise`);
      const p = convKernel(required(c.layer, 'pointwise_kernel'));
      return c.b.op('Conv', [depthwise, c.b.weight(`${c.layer.name}_pointwise_kernel`, p.dims, p.values)], `${c.layer.name}_pointwise`, { kernel_shape: [1, 1] });
    }),
  Dense: (c) => {
    const k = required(c.layer, 'kernel');
    const y = c.b.op('MatMul', [c.inputs[0], c.b.weight(`${c.layer.name}_kernel`, k.dims, k.values)], `${c.layer.name}_matmul`);
    return activation(c.b, withBias(c, y), c.layer.name, c.config.activation, c.layer);
  },
  BatchNormalization: (c) => {
    const rank = c.inputShapes[0].length;
    if (c.config.axis !== -1 && c.config.axis !== rank - 1) throw new UnsupportedLayerError(c.layer.name, 'BatchNormalization', `normalises axis ${c.config.axis}; only the last axis is exported`);
    const mean = required(c.layer, 'moving_mean').values;
    const variance = required(c.layer, 'moving_variance').values;
    const gamma = weight(c.layer, 'gamma')?.values;
    const beta = weight(c.layer, 'beta')?.values;
    // Inference-mode batch norm folded into one scale and one shift per channel.
    const scale = Float32Array.from(variance, (v, i) => (gamma?.[i] ?? 1) / Math.sqrt(v + c.config.epsilon));
    const shift = Float32Array.from(mean, (m, i) => (beta?.[i] ?? 0) - m * scale[i]);
    const name = c.layer.name;
    const scaled = c.b.op('Mul', [c.inputs[0], c.b.weight(`${name}_scale`, [scale.length], scale)], `${name}_scaled`);
    return c.b.op('Add', [scaled, c.b.weight(`${name}_shift`, [shift.length], shift)], name);
  },
  Activation: (c) => activation(c.b, c.inputs[0], c.layer.name, c.config.activation, c.layer),
  ReLU: (c) => (c.config.maxValue == null ? c.b.op('Relu', [c.inputs[0]], c.layer.name) : clip(c.b, c.inputs[0], c.layer.name, 0, c.config.maxValue)),
  LeakyReLU: (c) => c.b.op('LeakyRelu', [c.inputs[0]], c.layer.name, {}, { alpha: c.config.alpha ?? 0.3 }),
  ELU: (c) => c.b.op('Elu', [c.inputs[0]], c.layer.name, {}, { alpha: c.config.alpha ?? 1 }),
  Softmax: (c) => c.b.op('Softmax', [c.inputs[0]], c.layer.name, { axis: c.config.axis ?? -1 }),
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalAveragePooling2D: (c) => (channelsLast(c), c.b.op('ReduceMean', [c.inputs[0]], c.layer.name, { axes: [1, 2], keepdims: 0 })),
  GlobalMaxPooling2D: (c) => (channelsLast(c), c.b.op('ReduceMax', [c.inputs[0]], c.layer.name, { axes: [1, 2], keepdims: 0 })),
  Flatten: (c) => c.b.op('Flatten', [c.inputs[0]], c.layer.name, { axis: 1 }),
  // 0 keeps the batch dimension as it is.
  Reshape: (c) => c.b.op('Reshape', [c.inputs[0], c.b.ints(`${c.layer.name}_shape`, [0, ...c.config.targetShape])], c.layer.name),
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
  Add: (c) => c.b.op('Sum', c.inputs, c.layer.name),
  Multiply: merge('Mul'),
  Maximum: (c) => c.b.op('Max', c.inputs, c.layer.name),
  Minimum: (c) => c.b.op('Min', c.inputs, c.layer.name),
  Average: (c) => c.b.op('Mean', c.inputs, c.layer.name),
  Concatenate: (c) => c.b.op('Concat', c.inputs, c.layer.name, { axis: c.config.axis ?? -1 }),
  ZeroPadding2D: (c) => {
    channelsLast(c);
    const [[top, bottom], [left, right]] = c.config.padding as [[number, number], [number, number]];
    return c.b.op('Pad', [c.inputs[0], c.b.ints(`${c.layer.name}_pads`, [0, top, left, 0, 0, bottom, right, 0])], c.layer.name, { mode: 'constant' });
  },
  // tunespec's own text layers (model/families/bert, model/layers/masked-pooling.ts).
  TunespecBertEmbeddings: bertEmbeddings,
  TunespecBertLayer: bertLayer,
  TunespecBertPooler: bertPooler,
  [POOLING_CLASS]: maskedPooling,
};
