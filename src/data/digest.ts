import { createHash } from 'node:crypto';

// Digests identify data and splits across runs and machines. Typed arrays are hashed as their
// in-memory bytes, i.e. little-endian on every platform Node ships for in practice.

export function sha256Hex(parts: readonly (string | ArrayBufferView)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    if (typeof part === 'string') hash.update(part, 'utf8');
    else hash.update(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
  }
  return hash.digest('hex');
}

export function datasetDigest(exampleShape: readonly number[], features: Float32Array, labels: Int32Array): string {
  // The header fixes where features end and labels begin, so no two datasets share a byte stream.
  return sha256Hex([`shape=${exampleShape.join('x')};n=${labels.length}\n`, features, labels]);
}
