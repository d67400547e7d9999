import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import type { HfWeights } from '../../hf/weights.ts';
import type { TensorToWrite } from '../../hf/safetensors-write.ts';
import { exportCheckpoint, loadCheckpoint } from '../../hf/checkpoint.ts';
import type { BertConfig } from './config.ts';

export { hfParameterName } from '../../hf/checkpoint.ts';

/** nn.Linear weights, stored [out, in] by PyTorch and [in, out] here (see ops.ts). */
const LINEAR = /(query|key|value|dense)\.weight$/;

/** Buffers PyTorch saves beside the parameters; nothing to load from them. */
const BUFFERS = /(^|\.)position_ids$/;

/** Checkpoints saved from BertFor* task models carry a "bert." prefix on the encoder's parameters. */
function prefixOf(weights: HfWeights): string {
  return weights.entry('embeddings.word_embeddings.weight') || !weights.entry('bert.embeddings.word_embeddings.weight') ? '' : 'bert.';
}

export function hasPooler(weights: HfWeights): boolean {
  return weights.entry(`${prefixOf(weights)}pooler.dense.weight`) !== undefined;
}

/**
 * Copy the checkpoint into the model, checking each tensor's dtype and its shape against the one
 * config.json implies. Returns the checkpoint tensors nothing used (e.g. a pre-training head).
 */
export function loadBertWeights(tf: Tf, model: TF.LayersModel, cfg: BertConfig, weights: HfWeights): { unused: string[] } {
  const used = loadCheckpoint(tf, model, weights, {
    prefix: prefixOf(weights),
    transposed: LINEAR,
    configName: 'config.json',
    sizes: `hidden_size ${cfg.hiddenSize}, intermediate_size ${cfg.intermediateSize}, vocab_size ${cfg.vocabSize}`,
  });
  return { unused: weights.names().filter((n) => !used.has(n) && !BUFFERS.test(n)) };
}

/** The model's weights under their HF names and PyTorch layouts, ready for a safetensors file. */
export function exportBertWeights(model: TF.LayersModel): TensorToWrite[] {
  return exportCheckpoint(model, LINEAR);
}
