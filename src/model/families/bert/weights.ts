import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import type { HfWeights } from '../../hf/weights.ts';
import type { TensorToWrite } from '../../hf/safetensors-write.ts';
import { exportCheckpoint, loadCheckpoint } from '../../hf/checkpoint.ts';
import type { BertConfig } from './config.ts';
import { LINEAR_WEIGHT } from './naming.ts';

export { hfParameterName } from '../../hf/checkpoint.ts';

/** Buffers PyTorch saves beside the parameters; nothing to load from them. */
const BUFFERS = /(^|\.)position_ids$/;

/** Checkpoints saved from BertFor* (RobertaFor*, DistilBertFor*) task models carry a prefix ("bert.") on the encoder's parameters. */
function prefixOf(cfg: Pick<BertConfig, 'taskPrefix'>, weights: HfWeights): string {
  return weights.entry('embeddings.word_embeddings.weight') || !weights.entry(`${cfg.taskPrefix}embeddings.word_embeddings.weight`) ? '' : cfg.taskPrefix;
}

export function hasPooler(cfg: Pick<BertConfig, 'taskPrefix'>, weights: HfWeights): boolean {
  return weights.entry(`${prefixOf(cfg, weights)}pooler.dense.weight`) !== undefined;
}

/**
 * Copy the checkpoint into the model, checking each tensor's dtype and its shape against the one
 * config.json implies. Returns the checkpoint tensors nothing used (e.g. a pre-training head).
 */
export function loadBertWeights(tf: Tf, model: TF.LayersModel, cfg: BertConfig, weights: HfWeights): { unused: string[] } {
  const used = loadCheckpoint(tf, model, weights, {
    prefix: prefixOf(cfg, weights),
    transposed: LINEAR_WEIGHT,
    configName: 'config.json',
    // In the config's own words: DistilBERT calls the sizes dim and hidden_dim.
    sizes:
      cfg.naming === 'distilbert'
        ? `dim ${cfg.hiddenSize}, hidden_dim ${cfg.intermediateSize}, vocab_size ${cfg.vocabSize}`
        : `hidden_size ${cfg.hiddenSize}, intermediate_size ${cfg.intermediateSize}, vocab_size ${cfg.vocabSize}`,
  });
  return { unused: weights.names().filter((n) => !used.has(n) && !BUFFERS.test(n)) };
}

/** The model's weights under their HF names and PyTorch layouts, ready for a safetensors file. */
export function exportBertWeights(model: TF.LayersModel): TensorToWrite[] {
  return exportCheckpoint(model, LINEAR_WEIGHT);
}
