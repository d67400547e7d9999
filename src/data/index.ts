// The data stage's public surface; everything here runs without loading TensorFlow.js.
export { activeAugmentation, augmentBatch, hasAugmentation } from './augment.ts';
export { loadClassLabels, loadClassSummary, loadDataset, maxPixelValue, selectClasses } from './dataset.ts';
export { loadTextDataset } from './text-dataset.ts';
export type { TextDataset, TextLoadOptions } from './text-dataset.ts';
export { loadTokenizer, tokenizeTexts, TextTokenizer } from './tokenize.ts';
export type { Encoding, TokenBatch } from './tokenize.ts';
export type { ClassSelection, Dataset, SelectOptions } from './dataset.ts';
export { DataError } from './errors.ts';
export { createRng, shuffleInPlace } from './rng.ts';
export { splitDataset } from './split.ts';
export type { Split, SplitOptions } from './split.ts';
export { readCsv } from './readers/csv.ts';
export { readIdx, parseIdx } from './readers/idx.ts';
export type { IdxArray } from './readers/idx.ts';
export { readImageFolder } from './readers/image-folder.ts';
export { packTokens, tokenizedDataset } from './token-input.ts';
