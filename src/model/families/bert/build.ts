import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import type { BertConfig } from './config.ts';
import { bertLayerClasses } from './layers.ts';
import { BLOCK_NAMING } from './naming.ts';

export const BERT_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
/** RoBERTa and DistilBERT take no token_type_ids. */
export const UNTYPED_INPUTS = ['input_ids', 'attention_mask'] as const;

export function encoderInputs(cfg: Pick<BertConfig, 'tokenTypes'>): readonly string[] {
  return cfg.tokenTypes ? BERT_INPUTS : UNTYPED_INPUTS;
}

/**
 * The encoder as a functional LayersModel whose layers carry the Hugging Face module names:
 * `embeddings`, `encoder.layer.0` … `encoder.layer.N-1` (DistilBERT: `transformer.layer.N`), then
 * `pooler` when the checkpoint has one. Inputs are int32 [batch, tokens] of any length up to the
 * position table's; outputs are the last hidden states [batch, tokens, hidden] and, with a pooler,
 * the pooled [batch, hidden].
 */
export function buildBertEncoder(tf: Tf, cfg: BertConfig, opts: { pooler: boolean }): TF.LayersModel {
  const { Embeddings, Block, Pooler } = bertLayerClasses(tf);
  const inputs = encoderInputs(cfg).map((name) => tf.input({ shape: [null], dtype: 'int32', name }));
  const [ids, mask, types] = inputs;
  const embeddings = new Embeddings({
    name: 'embeddings',
    vocabSize: cfg.vocabSize,
    hiddenSize: cfg.hiddenSize,
    maxPositions: cfg.maxPositions,
    typeVocabSize: cfg.typeVocabSize,
    layerNormEps: cfg.layerNormEps,
    hiddenDropout: cfg.hiddenDropout,
    positionOffset: cfg.positionOffset,
    tokenTypes: cfg.tokenTypes,
  });
  let h = embeddings.apply(types ? [ids, types] : ids) as TF.SymbolicTensor;
  for (let i = 0; i < cfg.numLayers; i++) {
    const block = new Block({
      name: `${BLOCK_NAMING[cfg.naming].blocks}.${i}`,
      hiddenSize: cfg.hiddenSize,
      numHeads: cfg.numHeads,
      intermediateSize: cfg.intermediateSize,
      layerNormEps: cfg.layerNormEps,
      hiddenDropout: cfg.hiddenDropout,
      attentionDropout: cfg.attentionDropout,
      naming: cfg.naming,
    });
    h = block.apply([h, mask]) as TF.SymbolicTensor;
  }
  const outputs = [h];
  if (opts.pooler) outputs.push(new Pooler({ name: 'pooler', hiddenSize: cfg.hiddenSize }).apply(h) as TF.SymbolicTensor);
  return tf.model({ inputs, outputs, name: cfg.modelType });
}
