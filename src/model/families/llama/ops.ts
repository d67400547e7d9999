import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import { matMul } from '../bert/ops.ts';

/**
 * Llama's tensor ops. Projections have no bias and their weights are stored [in, out], multiplied
 * through the explicit-transpose matMul of the BERT family (see bert/ops.ts for why).
 */
export function project(tf: Tf, x: TF.Tensor, w: TF.Tensor, frozen = false): TF.Tensor {
  const inDim = x.shape[x.shape.length - 1]!;
  const flat = x.reshape([-1, inDim]);
  return (frozen ? constantMatMul(tf, flat, w) : matMul(tf, flat, w)).reshape([...x.shape.slice(0, -1), w.shape[1]!]);
}

/**
 * x·w where w needs no gradient (a frozen weight under LoRA, the frozen LM head): customGrad
 * computes every input's gradient eagerly, so passing w as an input would pay for w's gradient (as
 * costly as the forward matmul; for the 49,152-column head, a third of a step) only to drop it.
 * w is closed over instead and only x's gradient is made.
 */
function constantMatMul(tf: Tf, x: TF.Tensor, w: TF.Tensor): TF.Tensor {
  const f = tf.customGrad(((a: TF.Tensor) => ({
    value: tf.matMul(a, w),
    gradFunc: (dy: TF.Tensor) => tf.matMul(dy, tf.transpose(w)),
  })) as unknown as Parameters<Tf['customGrad']>[0]) as unknown as (a: TF.Tensor) => TF.Tensor;
  return f(x);
}

/** x / sqrt(mean(x²) + eps) · g, over the last axis. */
export function rmsNorm(tf: Tf, x: TF.Tensor, g: TF.Tensor, eps: number): TF.Tensor {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), g);
}

export function silu(tf: Tf, x: TF.Tensor): TF.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * Each token's position: the count of real tokens before it, so left padding (batched generation)
 * and right padding both give a sequence's first real token position 0, as Hugging Face's
 * generate does. `mask` [B, Tk] covers the cached tokens too; the last `tq` positions are returned.
 */
export function positionsFromMask(tf: Tf, mask: TF.Tensor, tq: number): TF.Tensor {
  const m = tf.cast(mask, 'float32');
  const pos = tf.relu(tf.sub(tf.cumsum(m, 1), 1));
  const tk = mask.shape[1]!;
  return tf.slice(pos, [0, tk - tq], [-1, tq]);
}

export interface Rope {
  /** [B, T, 1, headDim], broadcast over heads. */
  cos: TF.Tensor;
  sin: TF.Tensor;
}

/** Hugging Face's rotary tables: angle p·θ^(-2i/d) for i < d/2, the half repeated (rotate-half pairing). */
export function ropeTables(tf: Tf, positions: TF.Tensor, headDim: number, theta: number): Rope {
  const inv = tf.tensor1d(Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim)), 'float32');
  const angles = tf.mul(tf.expandDims(positions, -1), inv);
  const emb = tf.concat([angles, angles], -1).expandDims(2);
  return { cos: tf.cos(emb), sin: tf.sin(emb) };
}

/** x [B, T, heads, d] rotated: x·cos + rotate_half(x)·sin with rotate_half(x) = [-x₂, x₁]. */
export function applyRope(tf: Tf, x: TF.Tensor, rope: Rope): TF.Tensor {
  const d = x.shape[3]!;
  const x1 = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, d / 2]);
  const x2 = tf.slice(x, [0, 0, 0, d / 2], [-1, -1, -1, d / 2]);
  return tf.add(tf.mul(x, rope.cos), tf.mul(tf.concat([tf.neg(x2), x1], -1), rope.sin));
}

/**
 * Additive attention bias [B, 1, Tq, Tk]: 0 where query i (at absolute index Tk - Tq + i) may see
 * key j, a large negative number for a later key (causal) or a padding key.
 */
export function attentionBias(tf: Tf, mask: TF.Tensor, tq: number): TF.Tensor {
  const [B, tk] = mask.shape as number[];
  const causal = new Float32Array(tq * tk);
  for (let i = 0; i < tq; i++) for (let j = tk - tq + i + 1; j < tk; j++) causal[i * tk + j] = -1e9;
  const keys = tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -1e9).reshape([B, 1, 1, tk]);
  return tf.add(tf.tensor(causal, [1, 1, tq, tk]), keys);
}

/**
 * Grouped-query attention. q [B, Tq, H, d]; k, v [B, Tk, KV, d]; query head h reads key/value head
 * floor(h / (H/KV)), as Hugging Face's repeat_kv. Rather than repeating K and V (tfjs has no
 * gradient for a 5-D tile), each KV head's query group is folded into the row axis: q becomes
 * [B, KV, group·Tq, d] and the bias is tiled over the group (a constant, needing no gradient).
 */
export function groupedAttention(tf: Tf, q: TF.Tensor, k: TF.Tensor, v: TF.Tensor, bias: TF.Tensor): TF.Tensor {
  const [B, tq, H, d] = q.shape as number[];
  const KV = k.shape[2]!;
  const g = H / KV;
  const qf = tf.transpose(q.reshape([B, tq, KV, g, d]), [0, 2, 3, 1, 4]).reshape([B, KV, g * tq, d]);
  const kT = tf.transpose(k, [0, 2, 3, 1]);
  const vf = tf.transpose(v, [0, 2, 1, 3]);
  const scores = tf.add(tf.mul(matMul(tf, qf, kT), 1 / Math.sqrt(d)), g > 1 ? tf.tile(bias, [1, 1, g, 1]) : bias);
  const ctx = matMul(tf, tf.softmax(scores, -1), vf);
  return tf.transpose(ctx.reshape([B, KV, g, tq, d]), [0, 3, 1, 2, 4]).reshape([B, tq, H * d]);
}

/** The block's projections, by their key in BlockWeights and their Hugging Face module name. */
export const PROJECTIONS = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
} as const;
export type Projection = keyof typeof PROJECTIONS;

/** A LoRA branch beside a projection: x·A·B·scale, A [in, r] and B [r, out] (the transposes of PEFT's lora_A and lora_B). */
export interface LoraBranch {
  a: TF.Tensor;
  b: TF.Tensor;
  scale: number;
}

export interface BlockWeights {
  /** No base weight of the block needs a gradient (frozen, or under LoRA): their gradients are not computed. */
  frozen?: boolean;
  lora?: Partial<Record<Projection, LoraBranch>>;
  inputNorm: TF.Tensor;
  q: TF.Tensor;
  k: TF.Tensor;
  v: TF.Tensor;
  o: TF.Tensor;
  postNorm: TF.Tensor;
  gate: TF.Tensor;
  up: TF.Tensor;
  down: TF.Tensor;
}

export interface BlockShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
}

/**
 * One decoder block; `past` holds the earlier tokens' rotated keys and values (KV cache). Returns
 * the new cache too. A projection with a LoRA branch adds x·A·B·scale; `loraInput` (dropout while
 * training) is applied to each branch's input separately, as each PEFT module owns its dropout.
 */
export function decoderBlock(
  tf: Tf,
  w: BlockWeights,
  s: BlockShape,
  x: TF.Tensor,
  rope: Rope,
  bias: TF.Tensor,
  past?: { k: TF.Tensor; v: TF.Tensor },
  loraInput?: (x: TF.Tensor) => TF.Tensor,
): { out: TF.Tensor; k: TF.Tensor; v: TF.Tensor } {
  const [B, T] = x.shape as number[];
  const proj = (key: Projection, input: TF.Tensor): TF.Tensor => {
    const base = project(tf, input, w[key], w.frozen);
    const l = w.lora?.[key];
    if (!l) return base;
    const branch = project(tf, project(tf, loraInput ? loraInput(input) : input, l.a), l.b);
    return tf.add(base, tf.mul(branch, l.scale));
  };
  const h = rmsNorm(tf, x, w.inputNorm, s.rmsNormEps);
  const q = applyRope(tf, proj('q', h).reshape([B, T, s.numHeads, s.headDim]), rope);
  let k = applyRope(tf, proj('k', h).reshape([B, T, s.numKvHeads, s.headDim]), rope);
  let v = proj('v', h).reshape([B, T, s.numKvHeads, s.headDim]);
  if (past) {
    k = tf.concat([past.k, k], 1);
    v = tf.concat([past.v, v], 1);
  }
  const attn = tf.add(x, proj('o', groupedAttention(tf, q, k, v, bias)));
  const h2 = rmsNorm(tf, attn, w.postNorm, s.rmsNormEps);
  const out = tf.add(attn, proj('down', tf.mul(silu(tf, proj('gate', h2)), proj('up', h2))));
  return { out, k, v };
}
