import type * as TF from '@tensorflow/tfjs';
import { ModelError } from '../../../errors.ts';
import type { Tf } from '../../../engine/backends.ts';
import type { HfWeights } from '../../hf/weights.ts';
import type { TensorToWrite } from '../../hf/safetensors-write.ts';
import type { BertConfig } from './config.ts';

/** A tfjs weight "encoder.layer.0/attention.self.query.weight" is the HF parameter "encoder.layer.0.attention.self.query.weight". */
export function hfParameterName(weight: { originalName?: string; name: string }): string {
  return (weight.originalName ?? weight.name).replace('/', '.');
}

/** nn.Linear weights, stored [out, in] by PyTorch and [in, out] here (see ops.ts). */
const LINEAR = /(query|key|value|dense)\.weight$/;

/** Buffers PyTorch saves beside the parameters; nothing to load from them. */
const BUFFERS = /(^|\.)position_ids$/;

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

export function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

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
  const prefix = prefixOf(weights);
  const used = new Set<string>();
  const issues: string[] = [];
  const values: TF.Tensor[] = [];
  for (const w of model.weights) {
    const hf = prefix + hfParameterName(w);
    const entry = weights.entry(hf);
    const linear = LINEAR.test(hf);
    const want = linear ? [...w.shape].reverse() : w.shape;
    if (!entry) {
      issues.push(`"${hf}" is missing`);
      continue;
    }
    used.add(hf);
    if (!FLOAT_DTYPES.has(entry.dtype)) issues.push(`"${hf}" is ${entry.dtype}, not a float type (F32, F16, BF16, F64)`);
    else if (entry.shape.join(',') !== want.join(',')) {
      issues.push(`"${hf}" has shape [${entry.shape.join(', ')}] and config.json (hidden_size ${cfg.hiddenSize}, intermediate_size ${cfg.intermediateSize}, vocab_size ${cfg.vocabSize}) implies [${want.join(', ')}]`);
    }
    if (issues.length) continue;
    const v = weights.values(hf).values as Float32Array;
    values.push(tf.tensor(linear ? transpose2d(v, want[0] as number, want[1] as number) : v, w.shape as number[], 'float32'));
  }
  if (issues.length) {
    values.forEach((t) => t.dispose());
    const shown = issues.slice(0, 8).join('; ') + (issues.length > 8 ? `; and ${issues.length - 8} more` : '');
    throw new ModelError(`${weights.where} does not fit config.json: ${shown}`, weights.where);
  }
  model.setWeights(values);
  values.forEach((t) => t.dispose());
  return { unused: weights.names().filter((n) => !used.has(n) && !BUFFERS.test(n)) };
}

/** The model's weights under their HF names and PyTorch layouts, ready for a safetensors file. */
export function exportBertWeights(model: TF.LayersModel): TensorToWrite[] {
  return model.weights.map((w) => {
    const name = hfParameterName(w);
    const data = w.read().dataSync() as Float32Array;
    const linear = LINEAR.test(name);
    const [rows, cols] = w.shape as number[];
    return {
      name,
      dtype: 'F32' as const,
      shape: linear ? [cols, rows] : [...(w.shape as number[])],
      values: linear ? transpose2d(data, rows, cols) : Float32Array.from(data),
    };
  });
}
