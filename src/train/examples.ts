import { loadDataset, type Dataset } from '../data/dataset.ts';
import { DataError } from '../data/errors.ts';
import { loadTextDataset, type TextLoadOptions } from '../data/text-dataset.ts';
import { tokenizedDataset } from '../data/token-input.ts';
import { loadTokenizer } from '../data/tokenize.ts';
import type { DataSpec, Experiment, TextDataSpec } from '../spec/types.ts';
import { familyOf } from '../model/hf/encoder.ts';
import type { BaseModel } from '../model/source.ts';

/** The input names of a Hugging Face encoder of `modelType`, in the order its model takes them. */
export function encoderInputs(modelType: string): readonly string[] {
  return familyOf(modelType, 'config.json').inputs;
}

/**
 * Labelled texts as a text encoder takes them: tokenized with the tokenizer in `tokenizerFolder`
 * (the base model's, or a trained variant's copy) to the spec's max_length.
 */
export async function textExamples(data: TextDataSpec, dir: string, tokenizerFolder: string, inputs: readonly string[], opts: TextLoadOptions = {}): Promise<Dataset> {
  const texts = await loadTextDataset(data, dir, opts);
  return tokenizedDataset(texts, await loadTokenizer(tokenizerFolder), data.max_length, inputs);
}

/** A variant's examples in the form its model takes: features, or token ids from the base's tokenizer. */
export async function loadExamples(spec: Experiment, dir: string, base: BaseModel): Promise<Dataset> {
  const data: DataSpec = spec.data;
  if (data.format !== 'text') return loadDataset(data, dir, spec.base_model.preprocess);
  if (base.format !== 'hf') throw new DataError('text data needs a Hugging Face text encoder base (its tokenizer makes the model input)', data.path);
  return textExamples(data, dir, base.folder, encoderInputs(base.modelType));
}
