import { join } from 'node:path';
import { InputError } from '../errors.ts';
import type { DataSpec } from '../spec/types.ts';
import { DataError } from './errors.ts';
import { parseCsv } from './readers/csv-parse.ts';
import { byCodePoint, listDir, pathKind, readBytes } from './readers/files.ts';
import { decodeImage, imageKind, type RgbaImage } from './readers/image-decode.ts';
import { parseIdx } from './readers/idx.ts';
import { resizeBilinearInto, toChannels } from './readers/image-ops.ts';
import { normalise, type Preprocess } from './preprocess.ts';

// Inputs to predict on, preprocessed exactly as the variant's training data was: same scaling,
// and for image-folder variants the same channel conversion and resize as the image-folder
// reader. IDX-trained variants never saw resized images, so a wrong size is refused, not resized.

export interface UnlabeledInputs {
  /** One per example: the file, `file#i` for the i-th image of an IDX file, `file:line` for a CSV row. */
  names: string[];
  /** N * prod(exampleShape), row-major, already scaled. */
  features: Float32Array;
  exampleShape: number[];
  /** What was done to inputs to fit the model, one entry per distinct change (`resized 64×48 → 28×28 (width×height), RGB → grey`), with how many inputs had it. */
  conversions: { what: string; count: number }[];
}

interface Example {
  name: string;
  values: Float32Array;
  /** What was done to it to fit the model, when anything lossy was. */
  converted?: string;
}

const shape = (dims: number[]): string => dims.join('x');

/** Files named on the command line, with folders expanded to every file under them (hidden ones left out), sorted. */
async function expand(input: string): Promise<string[]> {
  const kind = await pathKind(input);
  if (!kind) throw new InputError(`${input}: no such file or folder`);
  if (kind !== 'folder') return [input];
  const files: string[] = [];
  for (const d of (await listDir(input)).sort((a, b) => byCodePoint(a.name, b.name))) {
    if (d.name.startsWith('.')) continue;
    const path = join(input, d.name);
    if (d.isDirectory()) files.push(...(await expand(path)));
    else files.push(path);
  }
  if (!files.length) throw new InputError(`${input}: the folder holds no files`);
  return files;
}

function isIdx(bytes: Uint8Array): boolean {
  const gzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
  return gzip || (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0);
}

/** IDX images as RGBA, so they take the same path as decoded PNGs. */
function idxImages(bytes: Uint8Array, file: string): { name: string; img: RgbaImage }[] {
  const { dims, data } = parseIdx(bytes, file);
  const [n, height, width, channels = 1] = dims;
  if (dims.length !== 3 && dims.length !== 4) {
    throw new InputError(`${file}: an IDX file of shape [${dims.join(', ')}] is not images (expected [N, height, width] or [N, height, width, channels])`);
  }
  if (channels !== 1 && channels !== 3) throw new InputError(`${file}: IDX images with ${channels} channels; 1 or 3 are supported`);
  const size = height! * width! * channels;
  return Array.from({ length: n! }, (_, i) => {
    const rgba = new Uint8Array(height! * width! * 4);
    for (let p = 0; p < height! * width!; p++) {
      for (let c = 0; c < 3; c++) rgba[4 * p + c] = data[i * size + p * channels + (channels === 1 ? 0 : c)]!;
      rgba[4 * p + 3] = 255;
    }
    return { name: `${file}#${i}`, img: { width: width!, height: height!, data: rgba } };
  });
}

function hasColour(img: RgbaImage): boolean {
  const d = img.data;
  for (let p = 0; p < d.length; p += 4) if (d[p] !== d[p + 1] || d[p + 1] !== d[p + 2]) return true;
  return false;
}

/**
 * One image in the variant's units: resized like the image-folder reader (or to the base model's
 * input when the variant preprocesses for it), or checked to need no resizing. Lossy changes
 * (a resize, colour to grey) are named, so that predict can say what it did to an input.
 */
function preprocess(
  name: string,
  img: RgbaImage,
  data: Exclude<DataSpec, { format: 'csv' }>,
  exampleShape: number[],
  pre?: Preprocess,
): { values: Float32Array; converted?: string } {
  const [height, width, channels] = exampleShape as [number, number, 1 | 3];
  const out = new Float32Array(height * width * channels);
  let converted: string | undefined;
  if (data.format === 'image_folder' || pre) {
    const changes = [
      ...(img.height !== height || img.width !== width ? [`resized ${img.width}×${img.height} → ${width}×${height} (width×height)`] : []),
      ...(channels === 1 && hasColour(img) ? ['RGB → grey'] : []),
    ];
    if (changes.length) converted = changes.join(', ');
    resizeBilinearInto(toChannels(img, channels), img.height, img.width, channels, height, width, out, 0);
  } else {
    const colour = channels === 1 && hasColour(img);
    if (img.height !== height || img.width !== width || colour) {
      const got = shape([img.height, img.width, colour ? 3 : channels]);
      const why = colour ? 'a colour image; the variant takes single-channel (grey) images' : 'the variant was trained on IDX images, which are never resized';
      throw new InputError(`${name}: got a ${got} image, expected ${shape(exampleShape)} (${why}): convert it first`);
    }
    // Grey pixels are copied as they are (not through the luminance weights), so a PNG written
    // from IDX bytes gives exactly the IDX values.
    if (channels === 1) for (let p = 0; p < height * width; p++) out[p] = img.data[4 * p]!;
    else out.set(toChannels(img, 3));
  }
  for (let j = 0; j < out.length; j++) out[j] = out[j]! / data.scale;
  if (pre) normalise(out, channels, pre);
  return { values: out, converted };
}

async function imageExamples(file: string, data: Exclude<DataSpec, { format: 'csv' }>, exampleShape: number[], pre?: Preprocess): Promise<Example[]> {
  const bytes = await readBytes(file);
  if (imageKind(bytes)) return [{ name: file, ...preprocess(file, decodeImage(bytes, file), data, exampleShape, pre) }];
  if (isIdx(bytes)) return idxImages(bytes, file).map(({ name, img }) => ({ name, ...preprocess(name, img, data, exampleShape, pre) }));
  throw new InputError(`${file}: not a PNG, JPEG or IDX image file (checked by content)`);
}

// Plain decimals only, as the CSV reader accepts for training.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** CSV rows: the variant's feature columns (all but the label column when it named none); a label column is ignored. */
async function csvExamples(file: string, data: Extract<DataSpec, { format: 'csv' }>, exampleShape: number[]): Promise<Example[]> {
  const bytes = await readBytes(file);
  if (imageKind(bytes) || isIdx(bytes)) throw new InputError(`${file}: an image file, but the variant was trained on CSV rows`);
  const [head, ...rows] = parseCsv(bytes.toString('utf8'), file);
  if (!head || !rows.length) throw new InputError(`${file}: no data rows (a header row and at least one row are needed)`);
  const header = head.fields.map((h) => h.trim());
  const columns = data.feature_columns ?? header.filter((h) => h !== data.label_column);
  const missing = columns.filter((c) => !header.includes(c));
  if (missing.length) throw new InputError(`${file}: no column ${missing.map((c) => JSON.stringify(c)).join(', ')}, which the variant was trained on`);
  if (columns.length !== exampleShape[0]) {
    throw new InputError(`${file}: ${columns.length} feature columns, but the variant takes ${exampleShape[0]}`);
  }
  const indices = columns.map((c) => header.indexOf(c));
  return rows.map(({ fields, line }) => {
    if (fields.length !== header.length) throw new DataError(`expected ${header.length} fields as in the header, found ${fields.length}`, file, line);
    const values = new Float32Array(indices.map((i, f) => {
      const cell = fields[i]!.trim();
      if (!DECIMAL.test(cell)) throw new DataError(`column "${columns[f]}": expected a number, found ${JSON.stringify(fields[i])}`, file, line);
      return Number(cell);
    }));
    return { name: `${file}:${line}`, values };
  });
}

/**
 * Reads image files, folders of images, IDX image files or CSV files (by content, not name) into
 * one batch shaped as the model's input, `exampleShape` (without the batch dimension), prepared
 * as the variant's `base_model.preprocess` says.
 */
export async function readUnlabeled(inputs: string[], data: DataSpec, exampleShape: number[], pre?: Preprocess): Promise<UnlabeledInputs> {
  const examples: Example[] = [];
  for (const input of inputs) {
    for (const file of await expand(input)) {
      if (data.format !== 'csv') {
        examples.push(...(await imageExamples(file, data, exampleShape, pre)));
        continue;
      }
      const rows = await csvExamples(file, data, exampleShape);
      if (pre) for (const r of rows) normalise(r.values, 1, pre);
      examples.push(...rows);
    }
  }
  const size = exampleShape.reduce((a, b) => a * b, 1);
  const features = new Float32Array(examples.length * size);
  examples.forEach((e, i) => features.set(e.values, i * size));
  const conversions = new Map<string, number>();
  for (const e of examples) if (e.converted) conversions.set(e.converted, (conversions.get(e.converted) ?? 0) + 1);
  return { names: examples.map((e) => e.name), features, exampleShape, conversions: [...conversions].map(([what, count]) => ({ what, count })) };
}
