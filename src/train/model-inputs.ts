import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';

/**
 * A batch of `n` examples as the model takes it. A model with one input gets one tensor
 * [n, ...exampleShape]; a model with k inputs (a text encoder's input_ids, attention_mask, …)
 * takes examples of shape [k, ...] (data/token-input.ts), split here into k tensors of each
 * input's dtype. Call inside tf.tidy.
 */
export function modelInputs(tf: Tf, model: TF.LayersModel, x: Float32Array, n: number, exampleShape: readonly number[]): TF.Tensor | TF.Tensor[] {
  const all = tf.tensor(x, [n, ...exampleShape]);
  if (model.inputs.length === 1) return all;
  const k = model.inputs.length;
  if (exampleShape[0] !== k) throw new RangeError(`the model takes ${k} inputs and the examples hold ${exampleShape[0]}`);
  return tf.unstack(all, 1).map((t, i) => (model.inputs[i].dtype === 'int32' ? tf.cast(t, 'int32') : t));
}
