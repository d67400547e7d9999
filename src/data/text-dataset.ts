import { isAbsolute, resolve } from 'node:path';
import type { TextDataSpec } from '../spec/types.ts';
import { textDatasetDigest } from './digest.ts';
import { DataError } from './errors.ts';
import { readTextRows } from './readers/text.ts';
import { selectClasses } from './select.ts';

// Text examples stay text here: which token ids they become depends on the base model's
// tokenizer, which the data stage takes as an argument (tokenize.ts), never loads itself.

export interface TextDataset {
  texts: string[];
  /** The second text of each example, when the spec names a `text_pair_column`. */
  pairs: string[] | undefined;
  /** Class index 0..K-1 of each example. */
  labels: Int32Array;
  /** 1-based line of the file each example starts on. */
  lines: Int32Array;
  /** Label value of class i as stored in the data. */
  classLabels: (string | number)[];
  /** `class_names` when given, else String(classLabels[i]). */
  classNames: string[];
  /** sha256 hex over texts, pairs and labels (after selection): the split's and the cache's key. */
  digest: string;
  source: string;
}

export interface TextLoadOptions {
  /**
   * Held-out data read for a trained variant: every label must be one of these classes (a test
   * set's stray label is a mistake to report at its line, not an example to drop quietly).
   */
  knownClasses?: readonly (string | number)[];
}

function requireKnownLabels(labels: readonly (string | number)[], lines: readonly number[], known: readonly (string | number)[], file: string): void {
  const allowed = new Set(known.map(String));
  const at = labels.findIndex((l) => !allowed.has(String(l)));
  if (at >= 0) {
    throw new DataError(`unknown label ${JSON.stringify(String(labels[at]))}: the variant's classes are ${known.map((k) => JSON.stringify(String(k))).join(', ')}`, file, lines[at]);
  }
}

export async function loadTextDataset(data: TextDataSpec, baseDir: string, opts: TextLoadOptions = {}): Promise<TextDataset> {
  const file = isAbsolute(data.path) ? data.path : resolve(baseDir, data.path);
  const rows = await readTextRows(file, { text: data.text_column, pair: data.text_pair_column, label: data.label_column });
  if (opts.knownClasses) requireKnownLabels(rows.labels, rows.lines, opts.knownClasses, file);
  const selection = selectClasses(
    rows.labels,
    { classes: data.classes ?? opts.knownClasses, classNames: data.class_names, limitPerClass: data.limit_per_class },
    file,
  );
  const pick = <T>(values: readonly T[]): T[] => Array.from(selection.indices, (i) => values[i]!);
  const texts = pick(rows.texts);
  const pairs = rows.pairs && pick(rows.pairs);
  return {
    texts,
    pairs,
    labels: selection.labels,
    lines: Int32Array.from(pick(rows.lines)),
    classLabels: selection.classLabels,
    classNames: selection.classNames,
    digest: textDatasetDigest(texts, pairs, selection.labels),
    source: file,
  };
}
