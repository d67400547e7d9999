import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { DataError } from '../errors.ts';

// Decoders are chosen by content, not extension: scraped datasets routinely hold JPEGs named .png.

export interface RgbaImage {
  width: number;
  height: number;
  /** 8-bit RGBA, row-major, 4 bytes per pixel. */
  data: Uint8Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

export function imageKind(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (startsWith(bytes, PNG_MAGIC)) return 'png';
  if (startsWith(bytes, JPEG_MAGIC)) return 'jpeg';
  return undefined;
}

export function decodeImage(bytes: Buffer, file: string): RgbaImage {
  const kind = imageKind(bytes);
  if (kind === undefined) throw new DataError('not a PNG or JPEG image (checked by content)', file);
  try {
    if (kind === 'png') {
      // pngjs expands palette/grey/16-bit input to 8-bit RGBA, so one code path follows.
      const png = pngjs.PNG.sync.read(bytes);
      return { width: png.width, height: png.height, data: png.data };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return { width: img.width, height: img.height, data: img.data };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new DataError(`cannot decode ${kind.toUpperCase()}: ${why}`, file);
  }
}
