// The data stage's public surface; everything here runs without loading TensorFlow.js.
export { augmentBatch, hasAugmentation } from './augment.ts';
export { loadDataset, maxPixelValue, selectClasses } from './dataset.ts';
export type { ClassSelection, Dataset, SelectOptions } from './dataset.ts';
export { DataError } from './errors.ts';
export { createRng, shuffleInPlace } from './rng.ts';
export { splitDataset } from './split.ts';
export type { Split, SplitOptions } from './split.ts';
export { readCsv } from './readers/csv.ts';
export { readIdx, parseIdx } from './readers/idx.ts';
export type { IdxArray } from './readers/idx.ts';
export { readImageFolder } from './readers/image-folder.ts';
