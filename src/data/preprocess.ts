import type { Experiment } from '../spec/types.ts';
import { resizeBilinearInto } from './readers/image-ops.ts';

// Absent from specs that do not need it, so their variant ids stay what they were.
export type Preprocess = NonNullable<Experiment['base_model']['preprocess']>;

const perChannel = (v: number | readonly number[], c: number): number => (typeof v === 'number' ? v : (v[c] ?? v[v.length - 1]));

/** Whether `preprocess` changes anything: the identity leaves a dataset (and its digest) as read. */
export function isIdentity(p: Preprocess): boolean {
  const ones = (v: number | readonly number[], x: number): boolean => (typeof v === 'number' ? v === x : v.every((y) => y === x));
  return !p.resize && p.channels === undefined && ones(p.mean, 0) && ones(p.std, 1);
}

/** The input shape a base model sees after `preprocess`. */
export function preprocessedShape(exampleShape: readonly number[], p: Preprocess): number[] {
  if (exampleShape.length !== 3) return [...exampleShape];
  const [h, w, c] = exampleShape;
  return [p.resize?.height ?? h, p.resize?.width ?? w, p.channels ?? c];
}

/** `(x - mean) / std` in place, per channel of the last axis. */
export function normalise(values: Float32Array, channels: number, p: Preprocess): void {
  for (let i = 0; i < values.length; i++) {
    const c = i % channels;
    values[i] = (values[i] - perChannel(p.mean, c)) / perChannel(p.std, c);
  }
}

/** Prepares one example at a time: what a dataset applies to the rows a batch gathers. */
export interface RowPreprocessor {
  /** One example's shape after preprocessing. */
  shape: number[];
  /** `row` (of the input shape) preprocessed into `out` at `offset`. */
  into(row: Float32Array, out: Float32Array, offset: number): void;
}

/**
 * Resize, convert channels, normalise: `(x - mean) / std` per channel. Grey to RGB replicates;
 * RGB to grey uses BT.601 luminance, as the image readers do.
 */
export function rowPreprocessor(exampleShape: readonly number[], p: Preprocess): RowPreprocessor {
  const out = preprocessedShape(exampleShape, p);
  const outSize = out.reduce((a, b) => a * b, 1);
  const channels = out.length === 3 ? out[2] : 1;
  if (exampleShape.length !== 3) {
    return {
      shape: out,
      into: (row, result, offset) => {
        result.set(row, offset);
        normalise(result.subarray(offset, offset + outSize), channels, p);
      },
    };
  }
  const [h, w, c] = exampleShape;
  const [oh, ow, oc] = out;
  const resized = new Float32Array(oh * ow * c);
  return {
    shape: out,
    into: (row, result, o) => {
      resizeBilinearInto(row, h, w, c, oh, ow, resized, 0);
      for (let p2 = 0; p2 < oh * ow; p2++) {
        if (oc === c) for (let k = 0; k < c; k++) result[o + p2 * oc + k] = resized[p2 * c + k];
        else if (oc === 3) result[o + p2 * 3] = result[o + p2 * 3 + 1] = result[o + p2 * 3 + 2] = resized[p2];
        else result[o + p2] = 0.299 * resized[p2 * 3] + 0.587 * resized[p2 * 3 + 1] + 0.114 * resized[p2 * 3 + 2];
      }
      normalise(result.subarray(o, o + outSize), channels, p);
    },
  };
}
