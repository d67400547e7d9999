import type { RgbaImage } from './image-decode.ts';

// Channel conversion and resizing are done here rather than in tfjs so the data stage can run
// (and be hashed) without loading the ML runtime.

/** RGBA → 1 (BT.601 luminance, as PIL's "L") or 3 (RGB) float channels; alpha is dropped. */
export function toChannels(img: RgbaImage, channels: 1 | 3): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n * channels);
  const src = img.data;
  for (let p = 0; p < n; p++) {
    const r = src[4 * p]!;
    const g = src[4 * p + 1]!;
    const b = src[4 * p + 2]!;
    if (channels === 1) {
      out[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    } else {
      out[3 * p] = r;
      out[3 * p + 1] = g;
      out[3 * p + 2] = b;
    }
  }
  return out;
}

/**
 * Bilinear resize of an HWC image with half-pixel centres (the convention of TF's
 * `resize_bilinear(half_pixel_centers=True)` and PIL), edges clamped. Writes into `out` at
 * `offset` so a whole dataset can be filled without per-image allocations.
 */
export function resizeBilinearInto(
  src: Float32Array,
  srcH: number,
  srcW: number,
  channels: number,
  dstH: number,
  dstW: number,
  out: Float32Array,
  offset: number,
): void {
  const scaleY = srcH / dstH;
  const scaleX = srcW / dstW;
  for (let y = 0; y < dstH; y++) {
    const sy = Math.min(Math.max((y + 0.5) * scaleY - 0.5, 0), srcH - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, srcH - 1);
    const fy = sy - y0;
    for (let x = 0; x < dstW; x++) {
      const sx = Math.min(Math.max((x + 0.5) * scaleX - 0.5, 0), srcW - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, srcW - 1);
      const fx = sx - x0;
      const o = offset + (y * dstW + x) * channels;
      for (let c = 0; c < channels; c++) {
        const a = src[(y0 * srcW + x0) * channels + c]!;
        const b = src[(y0 * srcW + x1) * channels + c]!;
        const d = src[(y1 * srcW + x0) * channels + c]!;
        const e = src[(y1 * srcW + x1) * channels + c]!;
        const top = a + (b - a) * fx;
        const bottom = d + (e - d) * fx;
        out[o + c] = top + (bottom - top) * fy;
      }
    }
  }
}
