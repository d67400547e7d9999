import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import type { LlamaHeadLayer } from '../model/families/llama/layers.ts';

// TEMPORARY: a stand-in for gen-lora's `causalLmLoss` (src/model/families/llama/causal-loss.ts),
// with the same signature and meaning, so the generation loop can be built and tested before the
// branches merge; the lead replaces this file's only import (causal-fit.ts) with gen-lora's module.

/**
 * Mean cross-entropy of predicting token t+1 from the tokens up to t, over the positions where
 * labelMask[t+1] is 1; and how many such tokens there were. Differentiable with respect to the
 * model's trainable weights. The LM head runs only at those positions (a 49,152-token vocabulary
 * over every position of a batch would not fit wasm's memory); they are picked by a one-hot
 * matrix product rather than a gather, whose gradient the wasm backend lacks.
 */
export function causalLmLoss(tf: Tf, model: TF.LayersModel, ids: TF.Tensor, attentionMask: TF.Tensor, labelMask: TF.Tensor): { loss: TF.Scalar; tokens: number } {
  const [B, T] = ids.shape as number[];
  const labels = labelMask.dataSync();
  const idv = ids.dataSync();
  const rows: number[] = [];
  const targets: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < T; t++) {
      if (labels[b * T + t + 1] !== 1) continue;
      rows.push(b * T + t);
      targets.push(idv[b * T + t + 1]);
    }
  }
  const tokens = rows.length;
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const head = layers.find((l) => l.name === 'lm_head') as LlamaHeadLayer;
  let h = ids;
  for (const l of layers) {
    if (l === head) break;
    h = (l.name.startsWith('model.layers.') ? l.apply([h, attentionMask], { training: true }) : l.apply(h, { training: true })) as TF.Tensor;
  }
  if (!tokens) return { loss: tf.scalar(0).add(tf.sum(h).mul(0)) as TF.Scalar, tokens };
  const H = h.shape[2]!;
  const pick = new Float32Array(tokens * B * T);
  rows.forEach((r, k) => (pick[k * B * T + r] = 1));
  const picked = tf.matMul(tf.tensor2d(pick, [tokens, B * T]), h.reshape([B * T, H]));
  const logits = head.logits(picked);
  const V = logits.shape[1]!;
  const logp = tf.logSoftmax(logits);
  const nll = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), V))));
  return { loss: tf.div(nll, tokens) as TF.Scalar, tokens };
}
