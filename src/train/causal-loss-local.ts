import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';

// TEMPORARY: a minimal stand-in for gen-lora's `causalLmLoss` (src/model/families/llama/causal-loss.ts),
// with the same signature and meaning, so the generation loop can be built and tested before the
// branches merge. It computes the full [B, T, vocab] logits, which the real one avoids; the lead
// replaces this file's only import (causal-fit.ts) with gen-lora's module at merge.

/**
 * Mean cross-entropy of predicting token t+1 from the tokens up to t, over the positions where
 * labelMask[t+1] is 1; and how many such tokens there were. Differentiable with respect to the
 * model's trainable weights.
 */
export function causalLmLoss(tf: Tf, model: TF.LayersModel, ids: TF.Tensor, attentionMask: TF.Tensor, labelMask: TF.Tensor): { loss: TF.Scalar; tokens: number } {
  const [B, T] = ids.shape as number[];
  const weights = tf.cast(tf.slice(labelMask, [0, 1], [B, T - 1]), 'float32');
  const tokens = (tf.sum(weights).dataSync() as Float32Array)[0];
  const logits = model.apply([ids, attentionMask], { training: true }) as TF.Tensor;
  const V = logits.shape[2]!;
  const logp = tf.logSoftmax(tf.slice(logits, [0, 0, 0], [B, T - 1, V]));
  const targets = tf.oneHot(tf.cast(tf.slice(ids, [0, 1], [B, T - 1]), 'int32'), V);
  const nll = tf.neg(tf.sum(tf.mul(logp, targets), -1));
  const loss = tf.div(tf.sum(tf.mul(nll, weights)), Math.max(tokens, 1)) as TF.Scalar;
  return { loss, tokens };
}
