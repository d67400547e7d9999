import { gunzipSync } from 'node:zlib';
import { DataError } from '../errors.ts';
import { readBytes } from './files.ts';

// IDX (the MNIST container): 2 zero bytes, a dtype byte, a rank byte, one big-endian uint32 per
// dimension, then the values row-major. Only unsigned bytes are needed for image/label data;
// the other dtypes are named so the error says what the file actually holds.

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const DTYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

// Detect gzip by content: downloaded files are often renamed or decompressed in place.
function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new DataError(`gzip data is corrupt or truncated (${why})`, file);
  }
}

/** Parses IDX bytes (gzipped or not); `file` is only used in error messages. */
export function parseIdx(raw: Uint8Array, file: string): IdxArray {
  const bytes = maybeGunzip(raw, file);
  if (bytes.length < 4) throw new DataError(`too short for an IDX header (${bytes.length} bytes)`, file);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(`not an IDX file: expected magic 00 00, found ${hex(bytes[0]!)} ${hex(bytes[1]!)}`, file);
  }
  const dtype = bytes[2]!;
  const rank = bytes[3]!;
  if (dtype !== 0x08) {
    const name = DTYPE_NAMES[dtype] ?? 'unknown';
    throw new DataError(`unsupported IDX dtype ${hex(dtype)} (${name}); only 0x08 (unsigned byte) is supported`, file);
  }
  if (rank === 0) throw new DataError('IDX header declares 0 dimensions', file);
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) {
    throw new DataError(`truncated IDX header: ${rank} dimensions need ${headerLength} bytes, file has ${bytes.length}`, file);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerLength;
  if (found < expected) {
    throw new DataError(`truncated IDX data: dimensions [${dims.join(', ')}] need ${expected} bytes, file has ${found}`, file);
  }
  if (found > expected) {
    throw new DataError(`IDX data has ${found - expected} unexpected trailing bytes after dimensions [${dims.join(', ')}]`, file);
  }
  return { dims, data: bytes.subarray(headerLength) };
}

export async function readIdx(file: string): Promise<IdxArray> {
  return parseIdx(await readBytes(file), file);
}
