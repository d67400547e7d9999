import { gatherRows } from './gather.ts';

/**
 * Examples as a model takes them, fetched by row: a dataset keeps its examples as read and
 * prepares only the rows a batch asks for, and a large feature-cache entry stays on disk, so no
 * caller holds a second, model-ready copy of the whole dataset.
 */
export interface RowSource {
  /** How many rows there are. */
  readonly count: number;
  /** One row's shape: [h, w, c] for images, [n] for feature vectors. */
  readonly shape: readonly number[];
  /** The rows at `indices` (0..count-1), in that order, as one new contiguous array. */
  gather(indices: ArrayLike<number>): Float32Array<ArrayBuffer>;
}

export const rowSize = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Rows already held in one array (`values.length / prod(shape)` of them). */
export function denseRows(values: Float32Array, shape: readonly number[]): RowSource {
  const size = rowSize(shape);
  return {
    count: size ? values.length / size : 0,
    shape: [...shape],
    gather: (indices) => gatherRows(values, size, indices),
  };
}

/** Some of a source's rows, in `indices` order: a split's side, with no rows copied. */
export function pickRows(source: RowSource, indices: Int32Array): RowSource {
  return {
    count: indices.length,
    shape: source.shape,
    gather: (picked) => source.gather(Int32Array.from(picked, (i) => indices[i])),
  };
}

/** Rows start..end-1. */
export function rangeRows(source: RowSource, start: number, end: number): Float32Array<ArrayBuffer> {
  return source.gather(Int32Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i));
}

/** Every row in one array: for small sources and callers that need them all at once. */
export function allRows(source: RowSource): Float32Array<ArrayBuffer> {
  return rangeRows(source, 0, source.count);
}

/** The rows in batches of `batchSize`, in order; one batch is held at a time. */
export function* rowBatches(source: RowSource, batchSize: number): Generator<{ start: number; x: Float32Array<ArrayBuffer> }> {
  for (let start = 0; start < source.count; start += batchSize) yield { start, x: rangeRows(source, start, Math.min(source.count, start + batchSize)) };
}
