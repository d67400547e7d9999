import { dirname, join } from 'node:path';
import { pathKind } from '../data/readers/files.ts';
import { packTokens } from '../data/token-input.ts';
import { loadTokenizer } from '../data/tokenize.ts';
import { readUnlabeledTexts } from '../data/unlabeled-text.ts';
import type { TextDataSpec } from '../spec/types.ts';
import type { ResolvedVariant } from '../track/resolve-variant.ts';

/**
 * The tokenizer a text variant trained with: the copy at the variant's top level, beside
 * model.onnx, or inside model/ where a variant of run store format 2 kept it.
 */
export async function variantTokenizerFolder(variant: ResolvedVariant): Promise<string> {
  return (await pathKind(join(variant.stored.dir, 'tokenizer.json'))) === 'file' ? variant.stored.dir : dirname(variant.modelJson);
}

/**
 * Texts (arguments, or rows of CSV/TSV/JSONL files) as a text variant takes them: its own
 * tokenizer, its spec's max_length, rows in its model's input order.
 */
export async function textInputs(inputs: readonly string[], variant: ResolvedVariant, data: TextDataSpec, inputNames: readonly string[]) {
  const texts = await readUnlabeledTexts(inputs, data);
  const tokenizer = await loadTokenizer(await variantTokenizerFolder(variant));
  return {
    names: texts.names,
    features: packTokens(tokenizer, texts.texts, texts.pairs, data.max_length, inputNames),
    exampleShape: [inputNames.length, data.max_length],
    conversions: [] as { what: string; count: number }[],
  };
}
