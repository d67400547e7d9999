import type * as TF from '@tensorflow/tfjs';
import type { GraphBuilder } from './graph-builder.ts';
import { required } from './converter.ts';
import { onnx } from './proto.ts';

// ONNX pieces the transformer converters share, each the graph form of the tfjs op of the same
// name in model/families/bert/ops.ts. Weights keep their Hugging Face parameter names
// (`encoder.layer.0.attention.self.query.weight`) and nodes their module names, so a user reading
// the graph sees the checkpoint's vocabulary.

/** A layer weight as an initializer named `<layer>.<suffix>`: the HF parameter name. */
export function hfWeight(b: GraphBuilder, layer: TF.layers.Layer, suffix: string): string {
  const w = required(layer, suffix);
  return b.weight(`${layer.name}.${suffix}`, w.dims, w.values);
}

/** x · W + b for the module `<layer>.<module>`; W is held [in, out] (nn.Linear transposed), as tfjs holds it. */
export function linear(b: GraphBuilder, x: string, layer: TF.layers.Layer, module: string): string {
  const name = `${layer.name}.${module}`;
  const y = b.op('MatMul', [x, hfWeight(b, layer, `${module}.weight`)], `${name}.matmul`);
  return b.op('Add', [y, hfWeight(b, layer, `${module}.bias`)], name);
}

/** LayerNormalization over the last axis: the one op here that needs opset 17. */
export function layerNorm(b: GraphBuilder, x: string, layer: TF.layers.Layer, module: string, eps: number): string {
  b.needOpset(17);
  const name = `${layer.name}.${module}`;
  return b.op('LayerNormalization', [x, hfWeight(b, layer, `${module}.weight`), hfWeight(b, layer, `${module}.bias`)], name, { axis: -1 }, { epsilon: eps });
}

/** The exact GELU, 0.5·x·(1 + erf(x/√2)), in tfjs's order of operations. */
export function gelu(b: GraphBuilder, x: string, name: string): string {
  const half = b.op('Mul', [x, b.scalar(`${name}.half`, 0.5)], `${name}.half_x`);
  const erf = b.op('Erf', [b.op('Mul', [x, b.scalar(`${name}.rsqrt2`, Math.SQRT1_2)], `${name}.scaled`)], `${name}.erf`);
  return b.op('Mul', [half, b.op('Add', [erf, b.scalar(`${name}.one`, 1)], `${name}.erf_plus_one`)], name);
}

/** The attention mask (int64 in the graph) as float 1/0; made once however many layers read it. */
export function maskAsFloat(b: GraphBuilder, mask: string): string {
  return b.once(`float:${mask}`, () => b.op('Cast', [mask], `${mask}.float`, { to: onnx.TensorProto.DataType.FLOAT }));
}

/** Where the attention mask marks a real token, as a bool [batch, tokens]. */
export function realTokens(b: GraphBuilder, mask: string): string {
  return b.once(`real:${mask}`, () => b.op('Greater', [maskAsFloat(b, mask), b.scalar(`${mask}.zero`, 0)], `${mask}.real`));
}
