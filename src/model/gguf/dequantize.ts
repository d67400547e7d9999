import { ModelError } from '../../errors.ts';
import { f16ToF32 } from '../hf/safetensors.ts';
import type { GgufFile, GgufTensorInfo } from './read.ts';

/**
 * ggml tensor types tunespec reads, with their block layout (values per block, bytes per block),
 * and the names of the others so a refusal says what the file holds. Formats from ggml's
 * ggml-common.h: Q4_0 {f16 d; u8 qs[16]} = (q-8)·d; Q4_1 {f16 d, m; u8 qs[16]} = q·d + m, low
 * nibbles are values 0..15 of the block and high nibbles 16..31; Q8_0 {f16 d; i8 qs[32]} = q·d.
 */
export interface GgmlType {
  code: number;
  name: string;
  blockSize: number;
  blockBytes: number;
}

const READABLE: GgmlType[] = [
  { code: 0, name: 'F32', blockSize: 1, blockBytes: 4 },
  { code: 1, name: 'F16', blockSize: 1, blockBytes: 2 },
  { code: 2, name: 'Q4_0', blockSize: 32, blockBytes: 18 },
  { code: 3, name: 'Q4_1', blockSize: 32, blockBytes: 20 },
  { code: 8, name: 'Q8_0', blockSize: 32, blockBytes: 34 },
  { code: 30, name: 'BF16', blockSize: 1, blockBytes: 2 },
];

/** ggml's other type names (ggml.h), for messages only. */
const OTHER_NAMES: Record<number, string> = {
  6: 'Q5_0', 7: 'Q5_1', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS',
  18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M',
};

export const GGML_TYPES: Record<number, GgmlType> = Object.fromEntries(READABLE.map((t) => [t.code, t]));

export const typeName = (code: number): string => GGML_TYPES[code]?.name ?? OTHER_NAMES[code] ?? `type ${code}`;

let halfTable: Float32Array | undefined;
/** All 65,536 half floats, so dequantising 100M values does not decode each scale bit by bit. */
function halves(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = f16ToF32(h);
  }
  return halfTable;
}

/** A tensor's values as float32, row-major in NumPy order (`info.shape`). */
export function dequantize(file: GgufFile, info: GgufTensorInfo): Float32Array {
  if (!GGML_TYPES[info.type.code]) {
    throw new ModelError(
      `${file.where}: tensor "${info.name}" is ${typeName(info.type.code)}, which tunespec cannot dequantise (it reads ${READABLE.map((t) => t.name).join(', ')}); convert the file with llama.cpp's llama-quantize to one of those`,
      file.where,
    );
  }
  const n = info.dims.reduce((a, b) => a * b, 1);
  // Copied so the views below are aligned whatever the tensor's offset.
  const raw = file.bytes.slice(info.begin, info.end);
  const view = new DataView(raw.buffer);
  const out = new Float32Array(n);
  const h = halves();
  switch (info.type.name) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = h[view.getUint16(i * 2, true)];
      break;
    case 'BF16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
    case 'Q4_0':
      for (let b = 0, o = 0; o < n; b += 18, o += 32) {
        const d = h[view.getUint16(b, true)];
        for (let j = 0; j < 16; j++) {
          const q = raw[b + 2 + j];
          out[o + j] = ((q & 0x0f) - 8) * d;
          out[o + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      break;
    case 'Q4_1':
      for (let b = 0, o = 0; o < n; b += 20, o += 32) {
        const d = h[view.getUint16(b, true)];
        const m = h[view.getUint16(b + 2, true)];
        for (let j = 0; j < 16; j++) {
          const q = raw[b + 4 + j];
          out[o + j] = (q & 0x0f) * d + m;
          out[o + j + 16] = (q >> 4) * d + m;
        }
      }
      break;
    case 'Q8_0':
      for (let b = 0, o = 0; o < n; b += 34, o += 32) {
        const d = h[view.getUint16(b, true)];
        for (let j = 0; j < 32; j++) out[o + j] = view.getInt8(b + 2 + j) * d;
      }
      break;
  }
  return out;
}
