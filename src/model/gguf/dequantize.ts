import { ModelError } from '../../errors.ts';
import { f16ToF32 } from '../hf/safetensors.ts';
import type { GgufFile, GgufTensorInfo } from './read.ts';
import { GGML_TYPES, READABLE, typeName } from './types.ts';

let halfTable: Float32Array | undefined;
/** All 65,536 half floats, so dequantising 100M values does not decode each scale bit by bit. */
function halves(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = f16ToF32(h);
  }
  return halfTable;
}

/**
 * A tensor's values as float32, row-major in NumPy order (`info.shape`). Block formats from ggml's
 * ggml-common.h: Q4_0 {f16 d; u8 qs[16]} = (q-8)·d; Q4_1 {f16 d, m; u8 qs[16]} = q·d + m, low
 * nibbles are values 0..15 of the block and high nibbles 16..31; Q8_0 {f16 d; i8 qs[32]} = q·d.
 */
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
