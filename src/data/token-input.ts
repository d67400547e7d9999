import { sha256Hex } from './digest.ts';
import type { Dataset } from './dataset.ts';
import { denseRows } from './rows.ts';
import type { TextDataset } from './text-dataset.ts';
import { tokenizeTexts, type TextTokenizer, type TokenBatch } from './tokenize.ts';

// A text encoder takes several int inputs (input_ids, attention_mask, token_type_ids). Here they
// travel as one float32 example of shape [inputs, max_length], rows stacked in the model's input
// order, so splitting, gathering, batching and the run store treat text like any other example;
// train/model-inputs.ts splits a batch back into the model's int32 inputs. Token ids are exact
// in float32 below 2^24, far above any vocabulary.

const ROWS: Record<string, keyof Pick<TokenBatch, 'inputIds' | 'attentionMask' | 'tokenTypeIds'>> = {
  input_ids: 'inputIds',
  attention_mask: 'attentionMask',
  token_type_ids: 'tokenTypeIds',
};

/** Texts (and pairs) tokenized into examples of shape [inputs.length, maxLength]. */
export function packTokens(tokenizer: TextTokenizer, texts: readonly string[], pairs: readonly string[] | undefined, maxLength: number, inputs: readonly string[]): Float32Array {
  const batch = tokenizeTexts(tokenizer, texts, pairs, maxLength);
  const rows = inputs.map((name) => {
    const key = ROWS[name];
    if (!key) throw new RangeError(`no tokenizer output for model input "${name}"`);
    return batch[key];
  });
  const out = new Float32Array(batch.count * inputs.length * maxLength);
  for (let i = 0; i < batch.count; i++) {
    rows.forEach((row, k) => out.set(row.subarray(i * maxLength, (i + 1) * maxLength), (i * inputs.length + k) * maxLength));
  }
  return out;
}

/**
 * A text dataset as model input. Its digest covers the texts and labels, the tokenizer (its
 * tokenizer.json digest), max_length and the inputs: what the split and the feature cache key on.
 */
export function tokenizedDataset(ds: TextDataset, tokenizer: TextTokenizer, maxLength: number, inputs: readonly string[]): Dataset {
  return {
    rows: denseRows(packTokens(tokenizer, ds.texts, ds.pairs, maxLength, inputs), [inputs.length, maxLength]),
    exampleShape: [inputs.length, maxLength],
    labels: ds.labels,
    classLabels: ds.classLabels,
    classNames: ds.classNames,
    digest: sha256Hex([`tokens;tokenizer=${tokenizer.digest};max_length=${maxLength};inputs=${inputs.join(',')}\n`, ds.digest]),
  };
}

/**
 * Examples packed by packTokens back as one Int32Array [count, maxLength] per input, each with its
 * row shape: the named feeds of a text model.onnx (engine/onnx-runtime.ts runNamed).
 */
export function tokenFeeds(x: Float32Array, inputs: readonly string[], maxLength: number): Record<string, { data: Int32Array; rowShape: number[] }> {
  const width = inputs.length * maxLength;
  if (x.length % width !== 0) throw new RangeError(`${x.length} values are not examples of ${inputs.length} inputs × ${maxLength} tokens`);
  const count = x.length / width;
  return Object.fromEntries(
    inputs.map((name, k) => {
      const out = new Int32Array(count * maxLength);
      for (let i = 0; i < count; i++) out.set(x.subarray(i * width + k * maxLength, i * width + (k + 1) * maxLength), i * maxLength);
      return [name, { data: out, rowShape: [maxLength] }];
    }),
  );
}
