import type { GraphBuilder } from './graph-builder.ts';
import type { Converter } from './converter.ts';
import { gelu, layerNorm, linear, maskAsFloat } from './transformer-ops.ts';
import { blockNaming } from '../families/bert/naming.ts';

/** 0 for real keys, -1e9 for padding, [batch, 1, 1, tokens]: the additive bias tfjs's keyBias makes. */
function keyBias(b: GraphBuilder, mask: string): string {
  return b.once(`key_bias:${mask}`, () => {
    const padding = b.op('Sub', [b.scalar(`${mask}.one`, 1), maskAsFloat(b, mask)], `${mask}.padding`);
    const bias = b.op('Mul', [padding, b.scalar(`${mask}.padding_bias`, -1e9)], `${mask}.key_bias_2d`);
    return b.op('Unsqueeze', [bias, b.ints(`${mask}.key_bias_axes`, [1, 2])], `${mask}.key_bias`);
  });
}

/**
 * TunespecBertLayer over [hidden states, attention mask]: multi-head self-attention with the
 * padded keys biased away, residual + LayerNorm, GELU feed-forward, residual + LayerNorm. Nodes
 * and weights take the checkpoint's module names (BERT's or DistilBERT's, from the layer config).
 */
export const bertLayer: Converter = (c) => {
  const { b, layer } = c;
  const n = layer.name;
  const [x, mask] = c.inputs;
  const { hiddenSize: H, numHeads: heads, layerNormEps: eps } = c.config;
  const names = blockNaming(c.config.naming);
  const d = H / heads;
  const perHead = b.ints(`${n}.attention.head_shape`, [0, 0, heads, d]);
  const heads4d = (t: string, perm: number[], name: string) => b.op('Transpose', [b.op('Reshape', [t, perHead], `${name}.split`)], `${name}.heads`, { perm });
  const q = heads4d(linear(b, x, layer, names.query), [0, 2, 1, 3], `${n}.${names.query}`);
  const kT = heads4d(linear(b, x, layer, names.key), [0, 2, 3, 1], `${n}.${names.key}`);
  const v = heads4d(linear(b, x, layer, names.value), [0, 2, 1, 3], `${n}.${names.value}`);
  const s = `${n}.attention.self`;
  const scaled = b.op('Mul', [b.op('MatMul', [q, kT], `${s}.scores_raw`), b.scalar(`${s}.scale`, 1 / Math.sqrt(d))], `${s}.scores_scaled`);
  const probs = b.op('Softmax', [b.op('Add', [scaled, keyBias(b, mask)], `${s}.scores`)], `${s}.probs`, { axis: -1 });
  const context = b.op('Transpose', [b.op('MatMul', [probs, v], `${s}.context_heads`)], `${s}.context_tokens`, { perm: [0, 2, 1, 3] });
  const merged = b.op('Reshape', [context, b.ints(`${s}.context_shape`, [0, 0, H])], `${s}.context`);
  const attention = b.op('Add', [linear(b, merged, layer, names.attentionOutput), x], `${n}.attention.output.residual`);
  const h = layerNorm(b, attention, layer, names.attentionNorm, eps);
  const inter = gelu(b, linear(b, h, layer, names.intermediate), `${n}.${names.intermediate.split('.')[0]}.gelu`);
  const out = b.op('Add', [linear(b, inter, layer, names.output), h], `${n}.output.residual`);
  return layerNorm(b, out, layer, names.outputNorm, eps);
};
