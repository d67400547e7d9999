import { readFile } from 'node:fs/promises';
import { ModelError } from '../../errors.ts';
import { GGML_TYPES, typeName, type GgmlType } from './types.ts';

/**
 * The GGUF container (llama.cpp's, versions 2 and 3): a magic "GGUF", a version, counts, then
 * typed metadata key-value pairs, tensor infos (name, dims innermost first, ggml type, offset),
 * padding to `general.alignment` (32 by default), and the tensor data. Every check names the file.
 */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** GGUF order: innermost dimension first (ggml's ne[]). */
  dims: number[];
  /** NumPy/PyTorch order (outermost first): a linear layer's [out, in]. */
  shape: number[];
  type: GgmlType;
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface GgufFile {
  where: string;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: Map<string, GgufTensorInfo>;
  alignment: number;
  bytes: Uint8Array;
}

const MAGIC = 0x46554747; // "GGUF" read little-endian

/** Value type codes of the metadata section. */
const VALUE_TYPES = ['UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'FLOAT32', 'BOOL', 'STRING', 'ARRAY', 'UINT64', 'INT64', 'FLOAT64'] as const;

/** Bounds that only a corrupt file exceeds, so a bad count fails at once instead of allocating. */
const MAX_DIMS = 8;

export function parseGguf(bytes: Uint8Array, where: string): GgufFile {
  const fail = (why: string): never => {
    throw new ModelError(`${where} is not a valid GGUF file: ${why}`, where);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  let pos = 0;
  const need = (n: number, what: string) => {
    if (pos + n > bytes.byteLength) fail(`it ends at byte ${bytes.byteLength} while reading ${what} (truncated file?)`);
  };
  const u32 = (what: string) => (need(4, what), (pos += 4), view.getUint32(pos - 4, true));
  const u64 = (what: string): number => {
    need(8, what);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} is ${v}, too large`);
    return Number(v);
  };
  const str = (what: string): string => {
    const n = u64(`the length of ${what}`);
    need(n, what);
    const s = utf8.decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const scalar = (type: number, what: string): GgufValue => {
    const size = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8][type];
    if (type === 8) return str(what);
    need(size, what);
    const at = pos;
    pos += size;
    switch (type) {
      case 0: return view.getUint8(at);
      case 1: return view.getInt8(at);
      case 2: return view.getUint16(at, true);
      case 3: return view.getInt16(at, true);
      case 4: return view.getUint32(at, true);
      case 5: return view.getInt32(at, true);
      case 6: return view.getFloat32(at, true);
      case 7: return view.getUint8(at) !== 0;
      case 10: { const v = view.getBigUint64(at, true); return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v; }
      case 11: { const v = view.getBigInt64(at, true); return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v; }
      case 12: return view.getFloat64(at, true);
      default: return fail(`${what} has value type ${type}; known: ${VALUE_TYPES.map((t, i) => `${i} ${t}`).join(', ')}`);
    }
  };
  const value = (type: number, what: string): GgufValue => {
    if (type !== 9) return scalar(type, what);
    const inner = u32(`the element type of ${what}`);
    const n = u64(`the length of ${what}`);
    // Each element takes at least one byte: a longer count than the bytes left is corrupt.
    if (n > bytes.byteLength - pos) fail(`${what} claims ${n} elements with ${bytes.byteLength - pos} bytes left`);
    const out: GgufValue[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = value(inner, what);
    return out;
  };

  if (bytes.byteLength < 4 || view.getUint32(0, true) !== MAGIC) fail('it does not start with the magic "GGUF"');
  pos = 4;
  const version = u32('the version');
  if (version !== 2 && version !== 3) fail(`version ${version} is not supported (2 and 3 are)`);
  const tensorCount = u64('the tensor count');
  const kvCount = u64('the metadata count');
  if (tensorCount > bytes.byteLength || kvCount > bytes.byteLength) fail(`it claims ${tensorCount} tensors and ${kvCount} metadata entries`);
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = str(`metadata key #${i}`);
    metadata.set(key, value(u32(`the type of metadata "${key}"`), `metadata "${key}"`));
  }
  const alignment = metadata.get('general.alignment') ?? 32;
  if (typeof alignment !== 'number' || alignment < 1 || (alignment & (alignment - 1)) !== 0) fail(`general.alignment is ${alignment}, not a power of two`);
  const infos: { name: string; dims: number[]; typeCode: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = str(`the name of tensor #${i}`);
    const nDims = u32(`the rank of tensor "${name}"`);
    if (nDims < 1 || nDims > MAX_DIMS) fail(`tensor "${name}" has ${nDims} dimensions`);
    const dims = Array.from({ length: nDims }, () => u64(`a dimension of tensor "${name}"`));
    infos.push({ name, dims, typeCode: u32(`the type of tensor "${name}"`), offset: u64(`the offset of tensor "${name}"`) });
  }
  const dataStart = Math.ceil(pos / (alignment as number)) * (alignment as number);
  const tensors = new Map<string, GgufTensorInfo>();
  for (const { name, dims, typeCode, offset } of infos) {
    const type = GGML_TYPES[typeCode];
    const numel = dims.reduce((a, b) => a * b, 1);
    if (!type) {
      // Kept: a file with one exotic tensor is still readable for the rest; the type is refused when that tensor is read.
      tensors.set(name, { name, dims, shape: [...dims].reverse(), type: { code: typeCode, name: typeName(typeCode), blockSize: 1, blockBytes: 0 }, begin: dataStart + offset, end: dataStart + offset });
      continue;
    }
    if (dims[0] % type.blockSize !== 0) fail(`tensor "${name}" (${type.name}) has a row of ${dims[0]} values, not a multiple of its block of ${type.blockSize}`);
    const begin = dataStart + offset;
    const end = begin + (numel / type.blockSize) * type.blockBytes;
    if (offset % (alignment as number) !== 0) fail(`tensor "${name}" starts at offset ${offset}, not a multiple of the alignment ${alignment}`);
    if (end > bytes.byteLength) fail(`tensor "${name}" (${type.name} [${dims.join(', ')}]) ends at byte ${end} of a ${bytes.byteLength}-byte file (truncated file?)`);
    tensors.set(name, { name, dims, shape: [...dims].reverse(), type, begin, end });
  }
  return { where, version, metadata, tensors, alignment: alignment as number, bytes };
}

export async function readGguf(path: string): Promise<GgufFile> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelError(code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path}: ${(err as Error).message}`, path);
  }
  return parseGguf(bytes, path);
}

/** A metadata value of the expected kind, or a located error. */
export function meta<T extends 'number' | 'string' | 'array'>(file: GgufFile, key: string, kind: T, optional?: false): T extends 'number' ? number : T extends 'string' ? string : GgufValue[];
export function meta<T extends 'number' | 'string' | 'array'>(file: GgufFile, key: string, kind: T, optional: true): (T extends 'number' ? number : T extends 'string' ? string : GgufValue[]) | undefined;
export function meta(file: GgufFile, key: string, kind: 'number' | 'string' | 'array', optional = false): unknown {
  const v = file.metadata.get(key);
  if (v === undefined) {
    if (optional) return undefined;
    throw new ModelError(`${file.where} has no metadata "${key}"`, file.where);
  }
  const ok = kind === 'array' ? Array.isArray(v) : typeof v === kind;
  if (!ok) throw new ModelError(`${file.where}: metadata "${key}" is ${Array.isArray(v) ? 'an array' : typeof v}, not ${kind === 'array' ? 'an array' : `a ${kind}`}`, file.where);
  return v;
}
