import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import { InternalError } from '../../../errors.ts';
import type { LlamaEmbeddingLayer, LlamaHeadLayer, LlamaNormLayer } from './layers.ts';

export interface CausalLossOptions {
  /** Dropout on (LoRA branches): true for a training step, false (the default) for validation. */
  training?: boolean;
  /**
   * Start at block `block` from its input hidden states [B, T, hidden] (the frozen blocks below
   * computed once and cached) instead of from the token ids.
   */
  from?: { block: number; hidden: TF.Tensor };
}

/**
 * Rows of x [N, H] at `rows`. gather's own gradient needs UnsortedSegmentSum, which the wasm
 * backend lacks: the rows' gradients are scattered back here instead.
 */
function gatherRows(tf: Tf, x: TF.Tensor, rows: Int32Array): TF.Tensor {
  const [N, H] = x.shape as number[];
  const f = tf.customGrad(((t: TF.Tensor) => ({
    value: tf.gather(t, tf.tensor1d(rows, 'int32')),
    gradFunc: (dy: TF.Tensor) => {
      const d = dy.dataSync() as Float32Array;
      const g = new Float32Array(N * H);
      for (let n = 0; n < rows.length; n++) for (let h = 0; h < H; h++) g[rows[n] * H + h] += d[n * H + h];
      return tf.tensor(g, [N, H]);
    },
  })) as unknown as Parameters<Tf['customGrad']>[0]) as unknown as (t: TF.Tensor) => TF.Tensor;
  return f(x);
}

/**
 * Mean cross-entropy of logits [N, V] against `targets`, written with its gradient (softmax − one-hot)
 * so that picking each row's target logit needs no gather gradient (missing on wasm). The softmax
 * (one fused kernel) serves both passes: its largest entry is 1/Σexp(z − max), so
 * logsumexp(z) = max(z) − log(max softmax), with no separate exp pass over the V columns.
 */
function crossEntropy(tf: Tf, logits: TF.Tensor, targets: Int32Array): TF.Scalar {
  const [N, V] = logits.shape as number[];
  const flat = targets.map((t, n) => n * V + t);
  const f = tf.customGrad(((z: TF.Tensor, save: TF.GradSaveFunc) => {
    const p = tf.softmax(z, -1);
    save([p]);
    const picked = tf.gather(z.reshape([-1]), tf.tensor1d(flat, 'int32'));
    const logSumExp = tf.sub(tf.max(z, -1), tf.log(tf.max(p, -1)));
    return {
      value: tf.div(tf.sum(tf.sub(logSumExp, picked)), N),
      gradFunc: (dy: TF.Tensor, [saved]: TF.Tensor[]) => tf.mul(tf.sub(saved, tf.oneHot(tf.tensor1d(targets, 'int32'), V)), tf.div(dy, N)),
    };
  }) as unknown as Parameters<Tf['customGrad']>[0]) as unknown as (z: TF.Tensor) => TF.Scalar;
  return f(logits);
}

/**
 * Mean token cross-entropy of predicting token t+1 from positions ≤ t, counted only where
 * labelMask[t+1] = 1 (ids, attentionMask, labelMask: int [B, T]). The LM head runs only at the
 * counted positions: with a 49,152-token vocabulary, full logits would cost more than the blocks.
 * Differentiable w.r.t. the trainable weights (use inside tf.variableGrads). `tokens` is the
 * number of counted tokens; with none the loss is 0 and depends on no weight.
 */
export function causalLmLoss(tf: Tf, model: TF.LayersModel, ids: TF.Tensor, attentionMask: TF.Tensor, labelMask: TF.Tensor, opts: CausalLossOptions = {}): { loss: TF.Scalar; tokens: number } {
  const [B, T] = ids.shape as number[];
  if (labelMask.shape.join() !== ids.shape.join() || attentionMask.shape.join() !== ids.shape.join()) {
    throw new InternalError(`causalLmLoss: ids [${ids.shape}], attention mask [${attentionMask.shape}] and label mask [${labelMask.shape}] differ in shape`);
  }
  const idv = ids.dataSync();
  const lab = labelMask.dataSync();
  const rows: number[] = [];
  const targets: number[] = [];
  for (let b = 0; b < B; b++)
    for (let t = 0; t + 1 < T; t++)
      if (lab[b * T + t + 1]) {
        rows.push(b * T + t);
        targets.push(idv[b * T + t + 1]);
      }
  if (!rows.length) return { loss: tf.scalar(0), tokens: 0 };
  const loss = tf.tidy(() => {
    const training = opts.training === true;
    const numBlocks = model.layers.filter((l) => /^model\.layers\.\d+$/.test(l.name)).length;
    const start = opts.from?.block ?? 0;
    let x = opts.from ? opts.from.hidden : (model.getLayer('model.embed_tokens') as LlamaEmbeddingLayer).lookup(ids);
    for (let i = start; i < numBlocks; i++) x = model.getLayer(`model.layers.${i}`).apply([x, attentionMask], { training }) as TF.Tensor;
    const H = x.shape[2]!;
    const picked = gatherRows(tf, x.reshape([B * T, H]), Int32Array.from(rows));
    const h = (model.getLayer('model.norm') as LlamaNormLayer).norm(picked);
    return crossEntropy(tf, (model.getLayer('lm_head') as LlamaHeadLayer).logits(h), Int32Array.from(targets));
  });
  return { loss, tokens: rows.length };
}
