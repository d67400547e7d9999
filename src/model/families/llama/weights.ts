import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import type { HfWeights } from '../../hf/weights.ts';
import type { TensorToWrite } from '../../hf/safetensors-write.ts';
import { exportCheckpoint, loadCheckpoint } from '../../hf/checkpoint.ts';
import type { LlamaConfig } from './config.ts';

/**
 * nn.Linear weights, stored [out, in] by PyTorch and [in, out] here (see bert/ops.ts); the
 * embedding table too, [vocab, hidden] there and [hidden, vocab] here (see layers.ts).
 */
export const TRANSPOSED = /(_proj\.weight|^lm_head\.weight|^model\.embed_tokens\.weight)$/;

/** Buffers some checkpoints save beside the parameters; nothing to load from them. */
const BUFFERS = /\.rotary_emb\.inv_freq$/;

/**
 * Copy the checkpoint into the model, checking each tensor's dtype and its shape against the one
 * the config implies. A tied model takes no lm_head.weight; one that a checkpoint carries anyway
 * (some exports write the tied copy) is not reported unused.
 */
export function loadLlamaWeights(tf: Tf, model: TF.LayersModel, cfg: LlamaConfig, weights: HfWeights): { unused: string[] } {
  const used = loadCheckpoint(tf, model, weights, {
    transposed: TRANSPOSED,
    configName: 'its config',
    sizes: `hidden_size ${cfg.hiddenSize}, intermediate_size ${cfg.intermediateSize}, ${cfg.numHeads} heads / ${cfg.numKvHeads} key-value heads of ${cfg.headDim}, vocab_size ${cfg.vocabSize}`,
  });
  if (cfg.tieWordEmbeddings && weights.entry('lm_head.weight')) used.add('lm_head.weight');
  return { unused: weights.names().filter((n) => !used.has(n) && !BUFFERS.test(n)) };
}

/** The model's weights under their HF names and PyTorch layouts, ready for a safetensors file. */
export function exportLlamaWeights(model: TF.LayersModel): TensorToWrite[] {
  return exportCheckpoint(model, TRANSPOSED);
}
