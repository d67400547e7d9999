/**
 * Write data/examples/*.png, the images the README's `predict` example classifies: the last
 * image of each class in the shipped Fashion-MNIST sample (data/quickstart), as 28x28 grey PNGs,
 * the shape a variant trained on that sample takes. Deterministic: same sample, same bytes.
 *
 *   npm run make:example-images
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pngjs from 'pngjs';
import { parseIdx } from '../src/data/readers/idx.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLE = join(ROOT, 'data', 'quickstart');
const OUT = join(ROOT, 'data', 'examples');
const NAMES: Record<number, string> = { 5: 'sandal', 6: 'shirt', 7: 'sneaker', 8: 'bag', 9: 'ankle-boot' };

const images = parseIdx(readFileSync(join(SAMPLE, 'images-idx3-ubyte.gz')), 'images-idx3-ubyte.gz');
const labels = parseIdx(readFileSync(join(SAMPLE, 'labels-idx1-ubyte.gz')), 'labels-idx1-ubyte.gz');
const [, height, width] = images.dims as [number, number, number];
mkdirSync(OUT, { recursive: true });
for (const [label, name] of Object.entries(NAMES)) {
  const i = labels.data.lastIndexOf(Number(label));
  const png = new pngjs.PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  png.data = Buffer.from(images.data.subarray(i * width * height, (i + 1) * width * height));
  writeFileSync(join(OUT, `${name}.png`), pngjs.PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
  console.log(`data/examples/${name}.png: example ${i} of the sample (class ${label})`);
}
