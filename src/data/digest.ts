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

/** Texts, pairs and labels, each text length-prefixed by JSON quoting so no two datasets share a byte stream. */
export function textDatasetDigest(texts: readonly string[], pairs: readonly string[] | undefined, labels: Int32Array): string {
  return sha256Hex([`text;n=${labels.length};pairs=${pairs !== undefined}\n`, JSON.stringify(texts), '\n', JSON.stringify(pairs ?? null), '\n', labels]);
}
