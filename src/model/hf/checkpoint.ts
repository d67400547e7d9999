import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../engine/backends.ts';
import { ModelError } from '../../errors.ts';
import type { TensorToWrite } from './safetensors-write.ts';
import type { HfWeights } from './weights.ts';

/** A tfjs weight "encoder.layer.0/attention.self.query.weight" is the HF parameter "encoder.layer.0.attention.self.query.weight". */
export function hfParameterName(weight: { originalName?: string; name: string }): string {
  return (weight.originalName ?? weight.name).replace('/', '.');
}

export function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

export interface CheckpointLayout {
  /** Prepended to every model weight's HF name to find it in the checkpoint ("bert." for task checkpoints). */
  prefix?: string;
  /** HF names of the weights a family stores transposed from the checkpoint (nn.Linear's [out, in] kept as [in, out]). */
  transposed: RegExp;
  /** What the message calls the config: "config.json". */
  configName: string;
  /** The config sizes that decide the shapes, for the message: "hidden_size 32, …". */
  sizes: string;
}

/**
 * Copy a checkpoint into a model built from its config, checking each tensor's dtype and its shape
 * against the one the config implies; every problem is listed in one located error. Returns the
 * checkpoint names the model used.
 */
export function loadCheckpoint(tf: Tf, model: TF.LayersModel, weights: HfWeights, layout: CheckpointLayout): Set<string> {
  const used = new Set<string>();
  const issues: string[] = [];
  const values: TF.Tensor[] = [];
  for (const w of model.weights) {
    const hf = (layout.prefix ?? '') + hfParameterName(w);
    const entry = weights.entry(hf);
    const transposed = layout.transposed.test(hf);
    const want = transposed ? [...w.shape].reverse() : w.shape;
    if (!entry) {
      issues.push(`"${hf}" is missing`);
      continue;
    }
    used.add(hf);
    if (!FLOAT_DTYPES.has(entry.dtype)) issues.push(`"${hf}" is ${entry.dtype}, not a float type (F32, F16, BF16, F64)`);
    else if (entry.shape.join(',') !== want.join(',')) {
      issues.push(`"${hf}" has shape [${entry.shape.join(', ')}] and ${layout.configName} (${layout.sizes}) implies [${want.join(', ')}]`);
    }
    if (issues.length) continue;
    const v = weights.values(hf).values as Float32Array;
    values.push(tf.tensor(transposed ? transpose2d(v, want[0] as number, want[1] as number) : v, w.shape as number[], 'float32'));
  }
  if (issues.length) {
    values.forEach((t) => t.dispose());
    const shown = issues.slice(0, 8).join('; ') + (issues.length > 8 ? `; and ${issues.length - 8} more` : '');
    throw new ModelError(`${weights.where} does not fit ${layout.configName}: ${shown}`, weights.where);
  }
  model.setWeights(values);
  values.forEach((t) => t.dispose());
  return used;
}

/** The model's weights under their HF names and PyTorch layouts, ready for a safetensors file. */
export function exportCheckpoint(model: TF.LayersModel, transposedNames: RegExp): TensorToWrite[] {
  return model.weights.map((w) => {
    const name = hfParameterName(w);
    const data = w.read().dataSync() as Float32Array;
    const transposed = transposedNames.test(name);
    const [rows, cols] = w.shape as number[];
    return {
      name,
      dtype: 'F32' as const,
      shape: transposed ? [cols, rows] : [...(w.shape as number[])],
      values: transposed ? transpose2d(data, rows, cols) : Float32Array.from(data),
    };
  });
}
