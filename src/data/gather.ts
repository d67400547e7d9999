/** Copy the given examples (rows of `size` values) into one contiguous array, in `rows` order. */
export function gatherRows(features: Float32Array, size: number, rows: ArrayLike<number>): Float32Array<ArrayBuffer> {
  const out = new Float32Array(rows.length * size);
  for (let i = 0; i < rows.length; i++) out.set(features.subarray(rows[i] * size, (rows[i] + 1) * size), i * size);
  return out;
}
