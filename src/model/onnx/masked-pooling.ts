import { UnsupportedLayerError, type Converter } from './converter.ts';
import { onnx } from './proto.ts';
import { realTokens } from './transformer-ops.ts';

/**
 * TunespecMaskedPooling over [hidden states, attention mask]: the first token, or the mean or max
 * over real tokens. As in tfjs, padding is selected away with Where, never multiplied by zero.
 */
export const maskedPooling: Converter = (c) => {
  const { b, layer } = c;
  const n = layer.name;
  const [hidden, mask] = c.inputs;
  const mode = c.config.mode;
  if (mode === 'cls') return b.op('Gather', [hidden, b.scalarInt(`${n}.first_token`, 0)], n, { axis: 1 });
  if (mode !== 'mean' && mode !== 'max') throw new UnsupportedLayerError(n, layer.getClassName(), `uses pooling mode "${mode}"`);
  const real = b.op('Unsqueeze', [realTokens(b, mask), b.ints(`${n}.width_axis`, [2])], `${n}.real`);
  if (mode === 'max') {
    const kept = b.op('Where', [real, hidden, b.scalar(`${n}.padding_value`, -1e9)], `${n}.masked`);
    return b.op('ReduceMax', [kept], n, { axes: [1], keepdims: 0 });
  }
  const kept = b.op('Where', [real, hidden, b.scalar(`${n}.padding_value`, 0)], `${n}.masked`);
  const sum = b.op('ReduceSum', [kept, b.ints(`${n}.token_axis`, [1])], `${n}.sum`, { keepdims: 0 });
  const realCount = b.op('ReduceSum', [b.op('Cast', [realTokens(b, mask)], `${n}.real_float`, { to: onnx.TensorProto.DataType.FLOAT }), b.ints(`${n}.count_axis`, [1])], `${n}.count_raw`, { keepdims: 1 });
  // As sentence-transformers: an all-padding row gives zeros, not NaN.
  const count = b.op('Max', [realCount, b.scalar(`${n}.min_count`, 1e-9)], `${n}.count`);
  return b.op('Div', [sum, count], n);
};
