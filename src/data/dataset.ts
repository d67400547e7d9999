import { isAbsolute, resolve } from 'node:path';
import type { DataSpec, ImageDataSpec } from '../spec/types.ts';
import { datasetDigest } from './digest.ts';
import { DataError } from './errors.ts';
import { readCsv } from './readers/csv.ts';
import { readIdx } from './readers/idx.ts';
import { readImageFolder } from './readers/image-folder.ts';
import type { RawExamples } from './readers/raw.ts';
import { selectClasses } from './select.ts';
import { applyPreprocess, type Preprocess } from './preprocess.ts';
import { loadTextDataset } from './text-dataset.ts';

export { selectClasses } from './select.ts';
export type { ClassSelection, SelectOptions } from './select.ts';

export interface Dataset {
  /** N * prod(exampleShape), row-major; images NHWC, already divided by `scale`. */
  features: Float32Array;
  /** [h, w, c] for images, [nFeatures] for CSV. */
  exampleShape: number[];
  /** Class index 0..K-1 of each example. */
  labels: Int32Array;
  /** Label value of class i as stored in the data. */
  classLabels: (string | number)[];
  /** `class_names` when given, else String(classLabels[i]). */
  classNames: string[];
  /** sha256 hex over exampleShape, features and labels (after selection). */
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

/** `preprocess` (the base model's input preparation) is applied after scaling; the digest covers its result. */
export async function loadDataset(data: DataSpec, baseDir: string, preprocess?: Preprocess): Promise<Dataset> {
  const raw = await readRaw(data, baseDir);
  const selection = selectClasses(
    raw.labels,
    { classes: data.classes, classNames: data.class_names, limitPerClass: data.limit_per_class },
    raw.source,
  );
  const size = raw.exampleShape.reduce((a, b) => a * b, 1);
  const scale = isImageData(data) ? data.scale : 1;
  const features = new Float32Array(selection.indices.length * size);
  selection.indices.forEach((src, dst) => {
    const from = src * size;
    const to = dst * size;
    for (let j = 0; j < size; j++) features[to + j] = raw.values[from + j]! / scale;
  });
  const input = preprocess ? applyPreprocess(features, raw.exampleShape, preprocess) : { features, exampleShape: raw.exampleShape };
  return {
    features: input.features,
    exampleShape: input.exampleShape,
    labels: selection.labels,
    classLabels: selection.classLabels,
    classNames: selection.classNames,
    digest: datasetDigest(input.exampleShape, input.features, selection.labels),
  };
}
