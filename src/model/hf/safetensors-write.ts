/**
 * Write safetensors files: what an exported Hugging Face folder holds, and how the tests make
 * files in every dtype the reader accepts. Tensors are laid out in the order given, with no gaps.
 */
import { DTYPE_BYTES, type SafetensorsDtype } from './safetensors.ts';

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';
  shape: number[];
  values: ArrayLike<number>;
}

function f32ToF16(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >> (1 - exp);
    return sign | ((m + 0x1000) >> 13);
  }
  return sign | ((exp << 10) + ((mant + 0x1000) >> 13));
}

function f32ToBf16(value: number): number {
  const x = new Uint32Array(new Float32Array([value]).buffer)[0];
  // Round to nearest even on the dropped 16 bits.
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    const size = t.values.length * DTYPE_BYTES[t.dtype as SafetensorsDtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let at = 8 + head.byteLength;
  for (const t of tensors) {
    for (let i = 0; i < t.values.length; i++) {
      const v = t.values[i];
      if (t.dtype === 'F32') view.setFloat32(at, v, true);
      else if (t.dtype === 'F16') view.setUint16(at, f32ToF16(v), true);
      else if (t.dtype === 'BF16') view.setUint16(at, f32ToBf16(v), true);
      else if (t.dtype === 'I64') view.setBigInt64(at, BigInt(v), true);
      else view.setInt32(at, v, true);
      at += DTYPE_BYTES[t.dtype];
    }
  }
  return out;
}
