import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import type { BertConfig } from './config.ts';
import { bertLayerClasses } from './layers.ts';

export const BERT_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;

/**
 * The encoder as a functional LayersModel whose layers carry the Hugging Face module names:
 * `embeddings`, `encoder.layer.0` … `encoder.layer.N-1`, then `pooler` when the checkpoint has one.
 * Inputs are int32 [batch, tokens] of any length up to max_position_embeddings; outputs are the
 * last hidden states [batch, tokens, hidden] and, with a pooler, the pooled [batch, hidden].
 */
export function buildBertEncoder(tf: Tf, cfg: BertConfig, opts: { pooler: boolean }): TF.LayersModel {
  const { Embeddings, Block, Pooler } = bertLayerClasses(tf);
  const [ids, mask, types] = BERT_INPUTS.map((name) => tf.input({ shape: [null], dtype: 'int32', name }));
  const embeddings = new Embeddings({
    name: 'embeddings',
    vocabSize: cfg.vocabSize,
    hiddenSize: cfg.hiddenSize,
    maxPositions: cfg.maxPositions,
    typeVocabSize: cfg.typeVocabSize,
    layerNormEps: cfg.layerNormEps,
    hiddenDropout: cfg.hiddenDropout,
  });
  let h = embeddings.apply([ids, types]) as TF.SymbolicTensor;
  for (let i = 0; i < cfg.numLayers; i++) {
    const block = new Block({
      name: `encoder.layer.${i}`,
      hiddenSize: cfg.hiddenSize,
      numHeads: cfg.numHeads,
      intermediateSize: cfg.intermediateSize,
      layerNormEps: cfg.layerNormEps,
      hiddenDropout: cfg.hiddenDropout,
      attentionDropout: cfg.attentionDropout,
    });
    h = block.apply([h, mask]) as TF.SymbolicTensor;
  }
  const outputs = [h];
  if (opts.pooler) outputs.push(new Pooler({ name: 'pooler', hiddenSize: cfg.hiddenSize }).apply(h) as TF.SymbolicTensor);
  return tf.model({ inputs: [ids, mask, types], outputs, name: cfg.modelType });
}
