import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import type { LlamaConfig } from './config.ts';
import { llamaLayerClasses } from './layers.ts';

export const LLAMA_INPUTS = ['input_ids', 'attention_mask'] as const;

/**
 * The decoder as a functional LayersModel whose layers carry the Hugging Face module names:
 * `model.embed_tokens`, `model.layers.0` … `model.layers.N-1`, `model.norm`, `lm_head`. Inputs are
 * int32 [batch, tokens] ids and attention mask (1 real, 0 padding; left or right); the output is
 * the logits [batch, tokens, vocab].
 */
export function buildLlama(tf: Tf, cfg: LlamaConfig, opts: { randomInit: boolean } = { randomInit: true }): TF.LayersModel {
  const { randomInit } = opts;
  const { Embedding, Block, Norm, Head } = llamaLayerClasses(tf);
  const [ids, mask] = LLAMA_INPUTS.map((name) => tf.input({ shape: [null], dtype: 'int32', name }));
  const embed = new Embedding({ name: 'model.embed_tokens', randomInit, vocabSize: cfg.vocabSize, hiddenSize: cfg.hiddenSize });
  let h = embed.apply(ids) as TF.SymbolicTensor;
  for (let i = 0; i < cfg.numLayers; i++) {
    const block = new Block({
      name: `model.layers.${i}`,
      randomInit,
      hiddenSize: cfg.hiddenSize,
      intermediateSize: cfg.intermediateSize,
      numHeads: cfg.numHeads,
      numKvHeads: cfg.numKvHeads,
      headDim: cfg.headDim,
      rmsNormEps: cfg.rmsNormEps,
      ropeTheta: cfg.ropeTheta,
    });
    h = block.apply([h, mask]) as TF.SymbolicTensor;
  }
  h = new Norm({ name: 'model.norm', randomInit, hiddenSize: cfg.hiddenSize, eps: cfg.rmsNormEps }).apply(h) as TF.SymbolicTensor;
  const head = new Head({ name: 'lm_head', randomInit, vocabSize: cfg.vocabSize, hiddenSize: cfg.hiddenSize, tiedTo: cfg.tieWordEmbeddings ? embed : undefined });
  return tf.model({ inputs: [ids, mask], outputs: head.apply(h) as TF.SymbolicTensor, name: cfg.modelType });
}
