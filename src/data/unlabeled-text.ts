import { extname } from 'node:path';
import { InputError } from '../errors.ts';
import type { TextDataSpec } from '../spec/types.ts';
import { pathKind } from './readers/files.ts';
import { readTextRows } from './readers/text.ts';

/** Texts to predict on: each argument is a text, or a CSV/TSV/JSONL file whose text column holds them. */
export interface UnlabeledTexts {
  /** One per example: the text itself, or `file:line` for a row of a file. */
  names: string[];
  texts: string[];
  pairs: string[] | undefined;
}

const FILE_KINDS = new Set(['.csv', '.tsv', '.tab', '.jsonl', '.ndjson']);

/**
 * An argument is a file when it names an existing file with a text-data extension; anything else is
 * a text to classify (so "film.csv" typed as a sentence still reads as a file only if it exists).
 */
export async function readUnlabeledTexts(inputs: readonly string[], data: TextDataSpec): Promise<UnlabeledTexts> {
  const out: UnlabeledTexts = { names: [], texts: [], pairs: data.text_pair_column === undefined ? undefined : [] };
  for (const input of inputs) {
    if (FILE_KINDS.has(extname(input).toLowerCase()) && (await pathKind(input)) === 'file') {
      const rows = await readTextRows(input, { text: data.text_column, pair: data.text_pair_column });
      rows.texts.forEach((t, i) => {
        out.names.push(`${input}:${rows.lines[i]}`);
        out.texts.push(t);
        out.pairs?.push(rows.pairs![i]!);
      });
      continue;
    }
    if (out.pairs) throw new InputError(`the variant classifies text pairs (columns "${data.text_column}" and "${data.text_pair_column}"): give a .csv, .tsv or .jsonl file with both; "${input.slice(0, 40)}" is not one`);
    if (input.trim() === '') throw new InputError('an empty text cannot be classified');
    out.names.push(input);
    out.texts.push(input);
  }
  return out;
}
