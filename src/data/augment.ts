import type { AugmentSpec, DataSpec } from '../spec/types.ts';
import { DataError } from './errors.ts';

// Training-batch augmentation on raw NHWC floats. The caller passes the rng so an epoch's
// augmentations follow from the training seed; the input is never mutated because batches are
// views of the shared dataset, which validation and later epochs must see untouched.

export function hasAugmentation(opts: AugmentSpec | undefined): boolean {
  return opts !== undefined && (opts.flip || opts.translate > 0 || opts.brightness > 0);
}

/** The augmentation a data section asks for, when it asks for any (only images have it). */
export function activeAugmentation(data: DataSpec): AugmentSpec | undefined {
  const opts = data.format === 'idx' || data.format === 'image_folder' ? data.augment : undefined;
  return hasAugmentation(opts) ? opts : undefined;
}

interface Draw {
  flip: boolean;
  dy: number;
  dx: number;
  offset: number;
}

// Draws happen in a fixed order, and only for active options, so the rng stream (and thus the
// result) depends only on the seed and the options that are switched on.
function draw(opts: AugmentSpec, rng: () => number, maxValue: number): Draw {
  const flip = opts.flip && rng() < 0.5;
  const t = opts.translate;
  const dy = t > 0 ? Math.floor(rng() * (2 * t + 1)) - t : 0;
  const dx = t > 0 ? Math.floor(rng() * (2 * t + 1)) - t : 0;
  const offset = opts.brightness > 0 ? (rng() * 2 - 1) * opts.brightness * maxValue : 0;
  return { flip, dy, dx, offset };
}

export function augmentBatch(
  batch: Float32Array,
  exampleShape: number[],
  opts: AugmentSpec,
  rng: () => number,
  maxValue: number,
): Float32Array<ArrayBuffer> {
  if (!hasAugmentation(opts)) return batch.slice();
  if (exampleShape.length !== 3) {
    throw new DataError(`augmentation needs image examples of shape [height, width, channels], got [${exampleShape.join(', ')}]`);
  }
  const [h, w, c] = exampleShape as [number, number, number];
  const size = h * w * c;
  if (size === 0 || batch.length % size !== 0) {
    throw new DataError(`batch of ${batch.length} values is not a whole number of [${exampleShape.join(', ')}] examples`);
  }
  const out = new Float32Array(batch.length);
  for (let base = 0; base < batch.length; base += size) {
    const { flip, dy, dx, offset } = draw(opts, rng, maxValue);
    // Output pixel (y, x) comes from source (y - dy, x - dx) of the (optionally mirrored)
    // image; pixels shifted in from outside are 0. Brightness then applies to the whole frame,
    // as if the shifted photo had been taken under different light.
    for (let y = 0; y < h; y++) {
      const sy = y - dy;
      for (let x = 0; x < w; x++) {
        const tx = x - dx;
        const inside = sy >= 0 && sy < h && tx >= 0 && tx < w;
        const sx = flip ? w - 1 - tx : tx;
        const o = base + (y * w + x) * c;
        const s = base + (sy * w + sx) * c;
        for (let k = 0; k < c; k++) {
          const v = (inside ? batch[s + k]! : 0) + offset;
          out[o + k] = v < 0 ? 0 : v > maxValue ? maxValue : v;
        }
      }
    }
  }
  return out;
}
