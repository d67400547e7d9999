import { isAbsolute, resolve } from 'node:path';
import type { DataSpec, ImageDataSpec } from '../spec/types.ts';
import { canonicalJson } from '../plan/canonical.ts';
import { sha256Hex } from './digest.ts';
import { DataError } from './errors.ts';
import { readCsv } from './readers/csv.ts';
import { readIdx } from './readers/idx.ts';
import { readImageFolder } from './readers/image-folder.ts';
import type { RawExamples } from './readers/raw.ts';
import { selectClasses } from './select.ts';
import { isIdentity, rowPreprocessor, type Preprocess } from './preprocess.ts';
import { rowSize, type RowSource } from './rows.ts';
import { loadTextDataset } from './text-dataset.ts';

export { selectClasses } from './select.ts';
export type { ClassSelection, SelectOptions } from './select.ts';

export interface Dataset {
  /** The examples as the model takes them (images NHWC, divided by `scale`, preprocessed), made per gather. */
  rows: RowSource;
  /** rows.shape: [h, w, c] for images, [nFeatures] for CSV. */
  exampleShape: number[];
  /** Class index 0..K-1 of each example. */
  labels: Int32Array;
  /** Label value of class i as stored in the data. */
  classLabels: (string | number)[];
  /** `class_names` when given, else String(classLabels[i]). */
  classNames: string[];
  /**
   * sha256 hex over what makes the model input: the selected examples as stored, their shape,
   * `scale`, the preprocessing (when it changes anything) and the labels. Cheap, and known
   * before any example is preprocessed, so a feature-cache hit preprocesses nothing.
   */
  digest: string;
}

/** Largest feature value of an image dataset after scaling (what augmentation clamps to). */
export function maxPixelValue(data: DataSpec): number | undefined {
  return isImageData(data) ? 255 / data.scale : undefined;
}

function isImageData(data: DataSpec): data is ImageDataSpec {
  return data.format === 'idx' || data.format === 'image_folder';
}

/** The classes a data section holds after selection, in class order, whatever its format. */
export async function loadClassLabels(data: DataSpec, baseDir: string): Promise<(string | number)[]> {
  return (await loadClassSummary(data, baseDir)).classLabels;
}

/** The classes a data section holds after selection, and how many examples. */
export async function loadClassSummary(data: DataSpec, baseDir: string): Promise<{ classLabels: (string | number)[]; examples: number }> {
  const loaded = data.format === 'text' ? await loadTextDataset(data, baseDir) : await loadDataset(data, baseDir);
  return { classLabels: loaded.classLabels, examples: loaded.labels.length };
}

function resolvePath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

async function readIdxPair(imagesFile: string, labelsFile: string): Promise<RawExamples> {
  const [images, labels] = await Promise.all([readIdx(imagesFile), readIdx(labelsFile)]);
  const [n, ...shape] = images.dims;
  if (shape.length !== 2 && shape.length !== 3) {
    throw new DataError(`expected images of shape [N, height, width] or [N, height, width, channels], found [${images.dims.join(', ')}]`, imagesFile);
  }
  if (labels.dims.length !== 1) throw new DataError(`expected labels of shape [N], found [${labels.dims.join(', ')}]`, labelsFile);
  if (labels.dims[0] !== n) {
    throw new DataError(`has ${labels.dims[0]} labels but the images file ${imagesFile} has ${n} images`, labelsFile);
  }
  return {
    values: images.data,
    exampleShape: shape.length === 2 ? [...shape, 1] : shape,
    labels: Array.from(labels.data),
    source: labelsFile,
  };
}

function readRaw(data: DataSpec, baseDir: string): Promise<RawExamples> {
  switch (data.format) {
    case 'idx':
      return readIdxPair(resolvePath(baseDir, data.images), resolvePath(baseDir, data.labels));
    case 'image_folder': {
      // Selection is re-applied afterwards; passing it here only avoids decoding unused images.
      const wanted = data.classes && new Set(data.classes.map(String));
      return readImageFolder(
        resolvePath(baseDir, data.path),
        { height: data.height, width: data.width, channels: data.channels },
        { keepLabel: wanted && ((label) => wanted.has(label)), limitPerClass: data.limit_per_class },
      );
    }
    case 'csv':
      return readCsv(resolvePath(baseDir, data.path), { labelColumn: data.label_column, featureColumns: data.feature_columns });
    case 'text':
      // Texts become token ids only with the base model's tokenizer: loadTextDataset + tokenizeTexts.
      throw new DataError('text data is not a feature matrix: read it with loadTextDataset and tokenize it with the base model\'s tokenizer', resolvePath(baseDir, data.path));
  }
}

/**
 * The selected examples, kept as read (IDX bytes stay bytes), made model input one gathered row
 * at a time: divided by `scale`, then preprocessed. The arithmetic is the same per row as it was
 * over the whole array, so every row is bit for bit what a whole-dataset pass would give.
 */
function storedRows(raw: RawExamples, selected: Int32Array, scale: number, preprocess: Preprocess | undefined): RowSource {
  const size = rowSize(raw.exampleShape);
  const prepare = preprocess && !isIdentity(preprocess) ? rowPreprocessor(raw.exampleShape, preprocess) : undefined;
  const shape = prepare?.shape ?? [...raw.exampleShape];
  const outSize = rowSize(shape);
  const scaled = new Float32Array(size);
  const values = raw.values;
  return {
    count: selected.length,
    shape,
    gather: (indices) => {
      const out = new Float32Array(indices.length * outSize);
      for (let i = 0; i < indices.length; i++) {
        const from = selected[indices[i]] * size;
        const row = prepare ? scaled : out.subarray(i * outSize, (i + 1) * outSize);
        for (let j = 0; j < size; j++) row[j] = values[from + j]! / scale;
        prepare?.into(scaled, out, i * outSize);
      }
      return out;
    },
  };
}

function storedDigest(raw: RawExamples, selected: Int32Array, labels: Int32Array, scale: number, preprocess: Preprocess | undefined): string {
  const size = rowSize(raw.exampleShape);
  const kind = raw.values instanceof Uint8Array ? 'uint8' : 'float32';
  const prep = preprocess && !isIdentity(preprocess) ? canonicalJson(preprocess) : 'none';
  // The header fixes where rows end and labels begin, so no two datasets share a byte stream.
  const header = `stored;${kind};shape=${raw.exampleShape.join('x')};n=${labels.length};scale=${scale};preprocess=${prep}\n`;
  const rows = Array.from(selected, (src) => raw.values.subarray(src * size, (src + 1) * size));
  return sha256Hex([header, ...rows, labels]);
}

/**
 * The examples selection keeps, with `preprocess` (the base model's input preparation) applied
 * after scaling as rows are gathered; the digest covers the stored rows and both settings.
 */
export async function loadDataset(data: DataSpec, baseDir: string, preprocess?: Preprocess): Promise<Dataset> {
  const raw = await readRaw(data, baseDir);
  const selection = selectClasses(
    raw.labels,
    { classes: data.classes, classNames: data.class_names, limitPerClass: data.limit_per_class },
    raw.source,
  );
  const scale = isImageData(data) ? data.scale : 1;
  const rows = storedRows(raw, selection.indices, scale, preprocess);
  return {
    rows,
    exampleShape: [...rows.shape],
    labels: selection.labels,
    classLabels: selection.classLabels,
    classNames: selection.classNames,
    digest: storedDigest(raw, selection.indices, selection.labels, scale, preprocess),
  };
}
