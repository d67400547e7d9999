import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import { ModelError } from '../../../errors.ts';
import type { LlamaConfig } from './config.ts';
import type { LlamaBlockLayer, LlamaEmbeddingLayer, LlamaHeadLayer, LlamaNormLayer } from './layers.ts';
import { attentionBias, decoderBlock, positionsFromMask, ropeTables } from './ops.ts';

export interface GreedyOptions {
  maxNewTokens: number;
  /** Token ids that end the answer (not included in it). */
  stop: readonly number[];
  /** Called with each new token as it is chosen (streaming). */
  onToken?: (id: number) => void;
}

/**
 * Greedy decoding of one sequence with a KV cache: the prompt runs once through the model's layers,
 * then each new token runs alone against the cached rotated keys and values of every block. Uses
 * the same block function as the model's forward pass, so both compute the same numbers.
 */
export function greedyDecode(tf: Tf, model: TF.LayersModel, cfg: LlamaConfig, prompt: readonly number[], opts: GreedyOptions): number[] {
  if (prompt.length === 0) throw new ModelError('greedy decoding needs at least one prompt token');
  const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= cfg.vocabSize);
  if (bad !== undefined) throw new ModelError(`token id ${bad} is outside the ${cfg.vocabSize}-token vocabulary`);
  const embed = model.getLayer('model.embed_tokens') as LlamaEmbeddingLayer;
  const blocks = Array.from({ length: cfg.numLayers }, (_, i) => model.getLayer(`model.layers.${i}`) as LlamaBlockLayer);
  const norm = model.getLayer('model.norm') as LlamaNormLayer;
  const head = model.getLayer('lm_head') as LlamaHeadLayer;
  let cache: { k: TF.Tensor; v: TF.Tensor }[] = [];
  const out: number[] = [];
  let input = [...prompt];
  try {
    while (out.length < opts.maxNewTokens) {
      const past = cache.length ? cache[0].k.shape[1]! : 0;
      if (past + input.length > cfg.maxPositions) break;
      const [next, ...kv] = tf.tidy(() => {
        const T = input.length;
        const mask = tf.ones([1, past + T], 'int32');
        const rope = ropeTables(tf, positionsFromMask(tf, mask, T), cfg.headDim, cfg.ropeTheta);
        const bias = attentionBias(tf, mask, T);
        let x = embed.lookup(tf.tensor2d([input], [1, T], 'int32'));
        const fresh: TF.Tensor[] = [];
        blocks.forEach((b, i) => {
          const r = decoderBlock(tf, b.blockWeights(), b.shape, x, rope, bias, cache[i]);
          x = r.out;
          fresh.push(r.k, r.v);
        });
        const last = tf.slice(x, [0, T - 1, 0], [1, 1, -1]);
        return [tf.argMax(head.logits(norm.norm(last)).reshape([-1])), ...fresh];
      });
      tf.dispose(cache.flatMap((c) => [c.k, c.v]));
      cache = blocks.map((_, i) => ({ k: kv[2 * i], v: kv[2 * i + 1] }));
      const id = (next.dataSync() as Int32Array)[0];
      next.dispose();
      if (opts.stop.includes(id)) break;
      out.push(id);
      opts.onToken?.(id);
      input = [id];
    }
  } finally {
    tf.dispose(cache.flatMap((c) => [c.k, c.v]));
  }
  return out;
}
