import { resolve } from 'node:path';
import type { GenerationExperiment } from '../spec/types.ts';
import { ChatRenderer } from './chat-render.ts';
import { sha256Hex } from './digest.ts';
import { DataError } from './errors.ts';
import { readChatFile } from './readers/chat.ts';
import { splitDataset, type Split } from './split.ts';

/** One tokenized example: its ids and which of them the loss counts (1), at most max_length long. */
export interface ChatExample {
  ids: Int32Array;
  labelMask: Uint8Array;
}

export interface ChatDataset {
  examples: ChatExample[];
  /** Identifies the tokenized examples (file, template, tokenizer and max_length all included). */
  digest: string;
  /** Examples cut at max_length. */
  truncated: number;
  /** Of those, examples that lost every learned token (their prompt alone fills max_length): left out. */
  dropped: number;
  /** Lines of the file the examples came from, by example. */
  lines: number[];
}

/**
 * A chat JSONL file rendered and tokenized for the base's tokenizer, cut to max_length tokens (the
 * end goes, as Hugging Face's truncation_side right). An example left with nothing to learn is
 * dropped, and counted, rather than trained on as padding.
 */
export async function loadChatDataset(spec: GenerationExperiment, dir: string, renderer: ChatRenderer, tokenizerDigest: string): Promise<ChatDataset> {
  const file = resolve(dir, spec.data.path);
  const records = await readChatFile(file);
  const max = spec.data.max_length;
  const examples: ChatExample[] = [];
  const lines: number[] = [];
  let truncated = 0;
  let dropped = 0;
  for (const r of records) {
    const { ids, labels } = renderer.example(r, file);
    const cut = ids.length > max;
    if (cut) truncated++;
    const keep = Math.min(ids.length, max);
    const mask = Uint8Array.from(labels.slice(0, keep));
    // The first token is never predicted (nothing precedes it), so it cannot be what an example teaches.
    if (!mask.subarray(1).some((x) => x === 1)) {
      if (cut) {
        dropped++;
        continue;
      }
      throw new DataError('nothing to learn: the completion renders to no tokens', file, r.line);
    }
    examples.push({ ids: Int32Array.from(ids.slice(0, keep)), labelMask: mask });
    lines.push(r.line);
  }
  if (examples.length < 2) {
    throw new DataError(`${examples.length} usable example(s)${dropped ? ` (${dropped} lost every completion token to max_length ${max})` : ''}; training and validation need at least 2`, file);
  }
  const digest = sha256Hex([
    `chat;n=${examples.length};max_length=${max};tokenizer=${tokenizerDigest}\n`,
    ...examples.flatMap((e) => [`${e.ids.length}\n`, e.ids, e.labelMask]),
  ]);
  return { examples, digest, truncated, dropped, lines };
}

/**
 * The seeded split of chat examples, as for classification (validation.fraction and seed).
 * `stratified` means nothing without classes: the split is a plain seeded shuffle.
 */
export function splitChatDataset(data: ChatDataset, validation: GenerationExperiment['validation']): Split {
  return splitDataset(new Int32Array(data.examples.length), { fraction: validation.fraction, stratified: false, seed: validation.seed }, data.digest);
}
