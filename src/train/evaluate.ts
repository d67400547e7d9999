import type { Tf } from '../engine/backends.ts';
import type * as TF from '@tensorflow/tfjs';
import { modelInputs } from './model-inputs.ts';
import { rangeRows, type RowSource } from '../data/rows.ts';

export interface Evaluation {
  loss: number;
  accuracy: number;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

/** The model's outputs for `n` examples in one flat batch × classes array. */
export function predictRows(tf: Tf, model: TF.LayersModel, x: Float32Array, n: number, exampleShape: readonly number[]): Float32Array {
  return tf.tidy(() => (model.predict(modelInputs(tf, model, x, n, exampleShape)) as TF.Tensor).dataSync() as Float32Array);
}

/**
 * The model's outputs for the first `count` examples, one flat batch × classes array per batch:
 * predicted in batches so a large dataset never sits in one tensor (nor, from a row source, in one array).
 */
export function predictInBatches(tf: Tf, model: TF.LayersModel, features: Float32Array | RowSource, exampleShape: readonly number[], count: number, batchSize: number): Float32Array[] {
  const size = exampleShape.reduce((a, b) => a * b, 1);
  const batches: Float32Array[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    const x = features instanceof Float32Array ? features.subarray(start * size, end * size) : rangeRows(features, start, end);
    batches.push(predictRows(tf, model, x, end - start, exampleShape));
  }
  return batches;
}

/** Predict in batches and score in JS. */
export function evaluate(
  tf: Tf,
  model: TF.LayersModel,
  features: Float32Array | RowSource,
  exampleShape: readonly number[],
  labels: Int32Array,
  classes: number,
  batchSize: number,
): Evaluation {
  return scoreProbabilities(predictInBatches(tf, model, features, exampleShape, labels.length, batchSize), labels, classes);
}

/**
 * Loss, accuracy and confusion of class probabilities (flat batches of rows, in example order)
 * against labels, from any engine: loss as tfjs computes categorical cross-entropy (clipped at 1e-7).
 */
export function scoreProbabilities(batches: Iterable<Float32Array>, labels: Int32Array, classes: number): Evaluation {
  const n = labels.length;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let loss = 0;
  let correct = 0;
  let example = 0;
  for (const probs of batches) {
    for (let i = 0; i < probs.length / classes; i++, example++) {
      const row = probs.subarray(i * classes, (i + 1) * classes);
      const truth = labels[example];
      let best = 0;
      for (let c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
      confusion[truth][best]++;
      if (best === truth) correct++;
      loss -= Math.log(Math.min(1 - 1e-7, Math.max(1e-7, row[truth])));
    }
  }
  return { loss: loss / n, accuracy: correct / n, confusion };
}
