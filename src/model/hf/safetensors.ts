import { ModelError } from '../../errors.ts';

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
 * dtype, shape and byte range, then the raw little-endian tensor bytes. Read here rather than
 * through a package because the format is this small and every check below names the file.
 */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the file's data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  where: string;
  entries: Map<string, TensorEntry>;
  metadata: Record<string, string>;
  bytes: Uint8Array;
  dataStart: number;
}

/** A tensor as tunespec uses it: floats as float32, integers as int32 (tfjs has no int64). */
export interface TensorValues {
  dtype: SafetensorsDtype;
  shape: number[];
  values: Float32Array | Int32Array;
}

/** A header larger than this is a corrupt length, not a real header (the format caps it at 100 MB). */
const MAX_HEADER = 100_000_000;

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function parseSafetensors(bytes: Uint8Array, where: string): SafetensorsFile {
  const fail = (why: string): never => {
    throw new ModelError(`${where} is not a valid safetensors file: ${why}`, where);
  };
  if (bytes.byteLength < 8) fail(`it has ${bytes.byteLength} bytes, fewer than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER || 8 + headerLength > bytes.byteLength) {
    fail(`the header length says ${headerLength} bytes and the file has ${bytes.byteLength - 8} after it`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (err) {
    return fail(`its header is not JSON (${(err as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) fail('its header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e?.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) {
      fail(`tensor "${name}" has dtype ${JSON.stringify(e?.dtype)}; known: ${Object.keys(DTYPE_BYTES).join(', ')}`);
    }
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor "${name}" has shape ${JSON.stringify(e.shape)}`);
    const shape = e.shape as number[];
    const offsets = e.data_offsets as number[];
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      fail(`tensor "${name}" has data_offsets ${JSON.stringify(e.data_offsets)}`);
    }
    const [begin, end] = offsets;
    if (end > dataLength) fail(`tensor "${name}" ends at byte ${end} of a ${dataLength}-byte data section (truncated file?)`);
    const want = numel(shape) * DTYPE_BYTES[dtype];
    if (end - begin !== want) fail(`tensor "${name}" (${dtype} [${shape.join(', ')}]) needs ${want} bytes and its offsets span ${end - begin}`);
    entries.set(name, { name, dtype, shape, begin, end });
  }
  const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) fail(`tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap`);
  }
  return { where, entries, metadata, bytes, dataStart };
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** One tensor's values, converted to float32 (floats) or int32 (integers; int64 out of int32 range is refused). */
export function tensorValues(file: SafetensorsFile, name: string): TensorValues {
  const e = file.entries.get(name);
  if (!e) throw new ModelError(`${file.where} has no tensor "${name}"`, file.where);
  const n = numel(e.shape);
  // Copied to an aligned buffer: a tensor's offset in the file need not be a multiple of its size.
  const raw = file.bytes.slice(file.dataStart + e.begin, file.dataStart + e.end);
  const view = new DataView(raw.buffer);
  const le = true;
  switch (e.dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, le);
      return { dtype: e.dtype, shape: e.shape, values: out };
    }
    case 'F64': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, le);
      return { dtype: e.dtype, shape: e.shape, values: out };
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(i * 2, le));
      return { dtype: e.dtype, shape: e.shape, values: out };
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, le) << 16;
      return { dtype: e.dtype, shape: e.shape, values: new Float32Array(bits.buffer) };
    }
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(i * 8, le);
        if (v > 2147483647n || v < -2147483648n) throw new ModelError(`${file.where}: tensor "${name}" holds ${v}, outside the int32 range tfjs can hold`, file.where);
        out[i] = Number(v);
      }
      return { dtype: e.dtype, shape: e.shape, values: out };
    }
    default: {
      const read: Record<string, (i: number) => number> = {
        I32: (i) => view.getInt32(i * 4, le),
        I16: (i) => view.getInt16(i * 2, le),
        I8: (i) => view.getInt8(i),
        U8: (i) => view.getUint8(i),
        BOOL: (i) => view.getUint8(i),
      };
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = read[e.dtype](i);
      return { dtype: e.dtype, shape: e.shape, values: out };
    }
  }
}
