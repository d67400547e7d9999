import { PNG } from 'pngjs';

export type Rgb = readonly [number, number, number];

export const WHITE: Rgb = [255, 255, 255];
export const BLACK: Rgb = [0, 0, 0];

export const GLYPH_WIDTH = 5;
/** Capitals and digits span CAP_HEIGHT rows; GLYPH_HEIGHT adds the descender row. */
export const CAP_HEIGHT = 7;
export const GLYPH_HEIGHT = CAP_HEIGHT + 1;
const ADVANCE = GLYPH_WIDTH + 1;
const FIRST_CHAR = 32;
const LAST_CHAR = 126;

// The classic public-domain 5x7 LCD font for ASCII 32..126: five column bytes per glyph, bit 0 at the top.
const FONT_HEX =
  '000000000000005f00000007000700147f147f14242a7f2a12231308646236495522500005030000' +
  '001c2241000041221c0014083e081408083e08080050300000080808080800606000002010080402' +
  '3e5149453e00427f400042615149462141454b311814127f1027454545393c4a4949300171090503' +
  '3649494936064949291e003636000000563600000814224100141414141400412214080201510906' +
  '324979413e7e1111117e7f494949363e414141227f4141221c7f494949417f090909013e4149497a' +
  '7f0808087f00417f41002040413f017f081422417f404040407f020c027f7f0408107f3e4141413e' +
  '7f090909063e4151215e7f09192946464949493101017f01013f4040403f1f2040201f3f4038403f' +
  '631408146307087008076151494543007f41410002040810200041417f0004020102044040404040' +
  '000102040020545454787f484444383844444420384444487f3854545418087e0901020c5252523e' +
  '7f0804047800447d40002040443d007f1028440000417f40007c041804787c080404783844444438' +
  '7c14141408081414187c7c080404084854545420043f4440203c4040207c1c2040201c3c4030403c' +
  '44281028440c5050503c4464544c44000836410000007f000000413608001008081008';

const FONT = Uint8Array.from(FONT_HEX.match(/../g) ?? [], (hex) => parseInt(hex, 16));

// The 7-row table squeezes these above the baseline, where "p" reads as "r" at small sizes; dropping them a row fixes that.
const DESCENDERS = new Set([...'gjpqy'].map((c) => c.charCodeAt(0)));

function glyphColumn(code: number, column: number): number {
  const index = code >= FIRST_CHAR && code <= LAST_CHAR ? code - FIRST_CHAR : '?'.charCodeAt(0) - FIRST_CHAR;
  const bits = FONT[index * GLYPH_WIDTH + column];
  return DESCENDERS.has(code) ? bits << 1 : bits;
}

/** Width in pixels of `text` drawn at `scale` (no trailing spacing column). */
export function textWidth(text: string, scale = 1): number {
  return text.length === 0 ? 0 : (text.length * ADVANCE - 1) * scale;
}

export function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, Math.max(0, maxChars - 2))}..`;
}

/** Centres `text` with its top at `y`, at the largest scale up to `maxScale` that fits; truncates only at scale 1. */
export function drawTitle(canvas: Canvas, text: string, y: number, color: Rgb, maxScale = 3): void {
  const room = canvas.width - 16;
  let scale = maxScale;
  while (scale > 1 && textWidth(text, scale) > room) scale--;
  const fitted = truncate(text, Math.floor((room + 1) / ADVANCE));
  canvas.text(Math.round((canvas.width - textWidth(fitted, scale)) / 2), y, fitted, color, scale);
}

/** A tiny RGB raster with clipped drawing primitives; coordinates are integer pixels, origin top-left. */
export class Canvas {
  readonly pixels: Buffer;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = WHITE,
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new RangeError(`canvas size must be positive integers, got ${width}x${height}`);
    }
    this.pixels = Buffer.alloc(width * height * 3);
    this.fill(background);
  }

  fill(color: Rgb): void {
    for (let i = 0; i < this.pixels.length; i += 3) this.pixels.set(color, i);
  }

  setPixel(x: number, y: number, color: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.pixels.set(color, (y * this.width + x) * 3);
  }

  getPixel(x: number, y: number): Rgb {
    const i = (y * this.width + x) * 3;
    return [this.pixels[i], this.pixels[i + 1], this.pixels[i + 2]];
  }

  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let py = y0; py < y1; py++) {
      for (let px = x0; px < x1; px++) this.pixels.set(color, (py * this.width + px) * 3);
    }
  }

  strokeRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    this.fillRect(x, y, w, 1, color);
    this.fillRect(x, y + h - 1, w, 1, color);
    this.fillRect(x, y, 1, h, color);
    this.fillRect(x + w - 1, y, 1, h, color);
  }

  /** Bresenham, stamping a thickness-sized square at each step so thick lines keep their weight at any slope. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1): void {
    // A NaN endpoint would never reach x1/y1 and spin forever.
    if (![x0, y0, x1, y1].every(Number.isFinite)) return;
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const half = Math.floor((thickness - 1) / 2);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      if (thickness <= 1) this.setPixel(x0, y0, color);
      else this.fillRect(x0 - half, y0 - half, thickness, thickness, color);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** Draws `text` with its top-left corner at (x, y); characters outside 32..126 render as '?'. */
  text(x: number, y: number, text: string, color: Rgb, scale = 1): void {
    this.glyphs(text, (gx, gy) => this.fillRect(x + gx * scale, y + gy * scale, scale, scale, color));
  }

  /** Text rotated 90 degrees anticlockwise (reads bottom to top), its bounding box's top-left at (x, y). */
  textVertical(x: number, y: number, text: string, color: Rgb, scale = 1): void {
    const length = textWidth(text, 1);
    this.glyphs(text, (gx, gy) => this.fillRect(x + gy * scale, y + (length - 1 - gx) * scale, scale, scale, color));
  }

  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    png.data = this.pixels;
    return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
  }

  private glyphs(text: string, plot: (gx: number, gy: number) => void): void {
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      for (let column = 0; column < GLYPH_WIDTH; column++) {
        const bits = glyphColumn(code, column);
        for (let row = 0; row < GLYPH_HEIGHT; row++) {
          if (bits & (1 << row)) plot(i * ADVANCE + column, row);
        }
      }
    }
  }
}
