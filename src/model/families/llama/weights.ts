import type * as TF from '@tensorflow/tfjs';
import { ModelError } from '../../../errors.ts';
import type { Tf } from '../../../engine/backends.ts';
import type { HfWeights } from '../../hf/weights.ts';
import type { TensorToWrite } from '../../hf/safetensors-write.ts';
import { hfParameterName, transpose2d } from '../bert/weights.ts';
import type { LlamaConfig } from './config.ts';

/**
 * nn.Linear weights, stored [out, in] by PyTorch and [in, out] here (see bert/ops.ts); the
 * embedding table too, [vocab, hidden] there and [hidden, vocab] here (see layers.ts).
 */
export const TRANSPOSED = /(_proj\.weight|^lm_head\.weight|^model\.embed_tokens\.weight)$/;

/** Buffers some checkpoints save beside the parameters; nothing to load from them. */
const BUFFERS = /\.rotary_emb\.inv_freq$/;

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * Copy the checkpoint into the model, checking each tensor's dtype and its shape against the one
 * config.json implies. A tied model takes no lm_head.weight; a checkpoint that carries one anyway
 * (some exports do) must equal the embeddings, else it is a different, untied model.
 */
export function loadLlamaWeights(tf: Tf, model: TF.LayersModel, cfg: LlamaConfig, weights: HfWeights): { unused: string[] } {
  const used = new Set<string>();
  const issues: string[] = [];
  const values: TF.Tensor[] = [];
  for (const w of model.weights) {
    const hf = hfParameterName(w);
    const entry = weights.entry(hf);
    const transposed = TRANSPOSED.test(hf);
    const want = transposed ? [...w.shape].reverse() : w.shape;
    if (!entry) {
      issues.push(`"${hf}" is missing`);
      continue;
    }
    used.add(hf);
    if (!FLOAT_DTYPES.has(entry.dtype)) issues.push(`"${hf}" is ${entry.dtype}, not a float type (F32, F16, BF16, F64)`);
    else if (entry.shape.join(',') !== want.join(',')) {
      issues.push(
        `"${hf}" has shape [${entry.shape.join(', ')}] and the config (hidden_size ${cfg.hiddenSize}, intermediate_size ${cfg.intermediateSize}, ` +
          `${cfg.numHeads} heads / ${cfg.numKvHeads} key-value heads of ${cfg.headDim}, vocab_size ${cfg.vocabSize}) implies [${want.join(', ')}]`,
      );
    }
    if (issues.length) continue;
    const v = weights.values(hf).values as Float32Array;
    values.push(tf.tensor(transposed ? transpose2d(v, want[0] as number, want[1] as number) : v, w.shape as number[], 'float32'));
  }
  if (cfg.tieWordEmbeddings && weights.entry('lm_head.weight')) used.add('lm_head.weight');
  if (issues.length) {
    values.forEach((t) => t.dispose());
    const shown = issues.slice(0, 8).join('; ') + (issues.length > 8 ? `; and ${issues.length - 8} more` : '');
    throw new ModelError(`${weights.where} does not fit its config: ${shown}`, weights.where);
  }
  model.setWeights(values);
  values.forEach((t) => t.dispose());
  return { unused: weights.names().filter((n) => !used.has(n) && !BUFFERS.test(n)) };
}

/** The model's weights under their HF names and PyTorch layouts, ready for a safetensors file. */
export function exportLlamaWeights(model: TF.LayersModel): TensorToWrite[] {
  return model.weights.map((w) => {
    const name = hfParameterName(w);
    const data = w.read().dataSync() as Float32Array;
    const transposed = TRANSPOSED.test(name);
    const [rows, cols] = w.shape as number[];
    return {
      name,
      dtype: 'F32' as const,
      shape: transposed ? [cols, rows] : [...(w.shape as number[])],
      values: transposed ? transpose2d(data, rows, cols) : Float32Array.from(data),
    };
  });
}
