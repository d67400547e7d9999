import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';

/**
 * A batch of `n` examples as the model takes it. A model with one input gets one tensor
 * [n, ...exampleShape]. A model with k inputs takes each example as its inputs side by side:
 * when every input's shape is fixed, a flat row of their values in input order (cached encoder
 * features: hidden states, then the attention mask); else rows of shape [k, ...] stacked
 * (data/token-input.ts: input_ids, attention_mask, …). Each part gets its input's dtype.
 * Call inside tf.tidy.
 */
export function modelInputs(tf: Tf, model: TF.LayersModel, x: Float32Array, n: number, exampleShape: readonly number[]): TF.Tensor | TF.Tensor[] {
  const all = tf.tensor(x, [n, ...exampleShape]);
  if (model.inputs.length === 1) return all;
  const k = model.inputs.length;
  const typed = (t: TF.Tensor, i: number) => (model.inputs[i].dtype === 'int32' ? tf.cast(t, 'int32') : t);
  const shapes = model.inputs.map((input) => input.shape.slice(1));
  if (shapes.every((s) => s.every((d) => d !== null))) {
    const sizes = shapes.map((s) => (s as number[]).reduce((a, b) => a * b, 1));
    const total = sizes.reduce((a, b) => a + b, 0);
    if (x.length !== n * total) throw new RangeError(`the model's ${k} inputs take ${total} values an example; the examples hold ${x.length / n}`);
    return tf.split(all.reshape([n, total]), sizes, 1).map((t, i) => typed(t.reshape([n, ...(shapes[i] as number[])]), i));
  }
  if (exampleShape[0] !== k) throw new RangeError(`the model takes ${k} inputs and the examples hold ${exampleShape[0]}`);
  return tf.unstack(all, 1).map(typed);
}
