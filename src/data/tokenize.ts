import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelError } from '../errors.ts';
import { truncateLongestFirst } from './truncate.ts';

// A Hugging Face `tokenizer.json` read offline with the pure-JS `@huggingface/tokenizers`, plus
// what that library leaves out: truncation and padding to a fixed length, and token type ids for
// pairs. The result equals the Rust `tokenizers` with `enable_truncation(max_length)` (longest
// first, right side) and `enable_padding(length=max_length)` (right side): test/data/tokenize.test.ts
// checks that against ids the Rust library wrote (scripts/tokenizer_parity.py).
// It lives in the data stage because turning examples into model input is data preparation;
// the model stage may import it to read a model folder's tokenizer, never the reverse.

/** Token ids of N examples, each exactly `maxLength` long, row-major [N, maxLength]. */
export interface TokenBatch {
  count: number;
  maxLength: number;
  inputIds: Int32Array;
  /** 1 for real tokens (special tokens included), 0 for padding. */
  attentionMask: Int32Array;
  /** 0 for the first text's part, 1 for the pair's part (BERT's segment ids); padding gets the pad type id. */
  tokenTypeIds: Int32Array;
}

export interface Encoding {
  ids: number[];
  attentionMask: number[];
  tokenTypeIds: number[];
}

interface PostProcessed {
  tokens: string[];
  tokens_pair?: string[] | null;
  token_type_ids?: number[];
}

interface TokenizerJson {
  model?: { unk_token?: string };
  added_tokens?: { id: number; content: string }[];
  padding?: { pad_id?: number; pad_type_id?: number; pad_token?: string } | null;
  post_processor?: unknown;
}

interface TokenizerConfig {
  pad_token?: string | { content?: string };
  model_max_length?: number;
}

export class TextTokenizer {
  /** sha256 of tokenizer.json: names this tokenizer in variant ids and cache keys. */
  readonly digest: string;
  /** The longest input the tokenizer's config allows (`model_max_length`), when it states a sane one. */
  readonly modelMaxLength: number | undefined;
  private readonly lib: Tokenizer;
  private readonly ids = new Map<string, number>();
  private readonly unkId: number | undefined;
  private readonly padId: number | undefined;
  private readonly padTypeId: number;
  private readonly specialCount: { single: number; pair: number };

  constructor(tokenizerJson: Buffer | string, config: TokenizerConfig = {}, private readonly source = 'tokenizer.json') {
    const text = typeof tokenizerJson === 'string' ? tokenizerJson : tokenizerJson.toString('utf8');
    this.digest = createHash('sha256').update(text, 'utf8').digest('hex');
    let json: TokenizerJson;
    try {
      json = JSON.parse(text) as TokenizerJson;
      this.lib = new Tokenizer(json, config);
    } catch (err) {
      throw new ModelError(`${source}: not a Hugging Face tokenizer.json: ${(err as Error).message}`, source);
    }
    for (const [token, id] of this.lib.get_vocab(true)) this.ids.set(token, id);
    for (const t of json.added_tokens ?? []) this.ids.set(t.content, t.id);
    this.unkId = json.model?.unk_token === undefined ? undefined : this.ids.get(json.model.unk_token);
    const padToken = json.padding?.pad_token ?? (typeof config.pad_token === 'string' ? config.pad_token : config.pad_token?.content);
    this.padId = json.padding?.pad_id ?? (padToken === undefined ? undefined : this.ids.get(padToken));
    this.padTypeId = json.padding?.pad_type_id ?? 0;
    // Hugging Face writes a huge sentinel (1e30) when a model states no limit.
    const limit = config.model_max_length;
    this.modelMaxLength = typeof limit === 'number' && limit > 0 && limit < 1e9 ? limit : undefined;
    this.specialCount = { single: this.postProcess([], null).tokens.length, pair: this.postProcess([], []).tokens.length };
  }

  /** Special tokens (e.g. [CLS] and [SEP]) added around one text, or around a pair. */
  specialTokens(pair: boolean): number {
    return pair ? this.specialCount.pair : this.specialCount.single;
  }

  /** One text (or pair), truncated longest-first and padded on the right to exactly `maxLength`. */
  encode(text: string, pair: string | undefined, maxLength: number): Encoding {
    const budget = maxLength - this.specialTokens(pair !== undefined);
    if (budget < 0) {
      throw new ModelError(`max_length ${maxLength} leaves no room for the ${this.specialTokens(pair !== undefined)} special tokens of ${this.source}`, this.source);
    }
    const [a, b] = truncateLongestFirst(this.pieces(text), pair === undefined ? undefined : this.pieces(pair), budget);
    const out = this.postProcess(a, b ?? null);
    const ids = out.tokens.map((t) => this.idOf(t));
    const types = out.token_type_ids ?? out.tokens.map((_, i) => (i < a.length ? 0 : 1));
    const padding = maxLength - ids.length;
    if (padding > 0 && this.padId === undefined) {
      throw new ModelError(`${this.source} names no padding token (tokenizer.json "padding" or tokenizer_config.json "pad_token"), so inputs cannot be padded to max_length`, this.source);
    }
    return {
      ids: [...ids, ...new Array<number>(padding).fill(this.padId ?? 0)],
      attentionMask: [...new Array<number>(ids.length).fill(1), ...new Array<number>(padding).fill(0)],
      tokenTypeIds: [...types, ...new Array<number>(padding).fill(this.padTypeId)],
    };
  }

  /** Number of tokens a text (or pair) has before truncation, special tokens included. */
  length(text: string, pair?: string): number {
    return this.pieces(text).length + (pair === undefined ? 0 : this.pieces(pair).length) + this.specialTokens(pair !== undefined);
  }

  /**
   * One text's token ids as they stand, no special tokens added and no truncation: special tokens
   * written in the text (a chat template's `<|im_start|>`) become their own ids.
   */
  encodeText(text: string): number[] {
    return text === '' ? [] : this.lib.encode(text, { add_special_tokens: false }).ids;
  }

  /** One text's token ids with the special tokens the tokenizer's post-processor adds (a BOS, say), as `tokenizer(text)` gives them. */
  encodeWithSpecials(text: string): number[] {
    return this.lib.encode(text).ids;
  }

  /** The id of a token (a special token's text, say), or undefined when the vocabulary has none. */
  tokenId(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** Tokens back to text, without special tokens and padding. */
  decode(ids: readonly number[]): string {
    return ids.length ? this.lib.decode([...ids], { skip_special_tokens: true }) : '';
  }

  private pieces(text: string): string[] {
    return text === '' ? [] : this.lib.tokenize(text, { add_special_tokens: false });
  }

  private postProcess(a: string[], b: string[] | null): { tokens: string[]; token_type_ids?: number[] } {
    const processor = this.lib.post_processor as unknown as ((a: string[], b: string[] | null, special: boolean) => PostProcessed) | null;
    if (!processor) return { tokens: [...a, ...(b ?? [])] };
    const out = processor(a, b, true);
    // Byte-level post-processors hand the pair back unmerged, without type ids.
    return out.tokens_pair ? { tokens: [...out.tokens, ...out.tokens_pair] } : out;
  }

  private idOf(token: string): number {
    const id = this.ids.get(token) ?? this.unkId;
    if (id === undefined) throw new ModelError(`${this.source}: token ${JSON.stringify(token)} is not in the vocabulary and there is no unknown token`, this.source);
    return id;
  }
}

async function readJson(file: string, required: boolean): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message}`, file);
  }
}

/** The tokenizer of a Hugging Face model folder: tokenizer.json, and tokenizer_config.json when present. */
export async function loadTokenizer(folder: string): Promise<TextTokenizer> {
  const file = join(folder, 'tokenizer.json');
  const configFile = join(folder, 'tokenizer_config.json');
  const [json, configBytes] = await Promise.all([readJson(file, true), readJson(configFile, false)]);
  let config: TokenizerConfig = {};
  if (configBytes) {
    try {
      config = JSON.parse(configBytes.toString('utf8')) as TokenizerConfig;
    } catch (err) {
      throw new ModelError(`${configFile}: invalid JSON: ${(err as Error).message}`, configFile);
    }
  }
  return new TextTokenizer(json!, config, file);
}

/** Tokenize N texts (and their pairs) into fixed-length rows, as a model batch takes them. */
export function tokenizeTexts(tokenizer: TextTokenizer, texts: readonly string[], pairs: readonly string[] | undefined, maxLength: number): TokenBatch {
  const n = texts.length;
  if (pairs !== undefined && pairs.length !== n) throw new RangeError(`${n} texts but ${pairs.length} text pairs`);
  const batch: TokenBatch = {
    count: n,
    maxLength,
    inputIds: new Int32Array(n * maxLength),
    attentionMask: new Int32Array(n * maxLength),
    tokenTypeIds: new Int32Array(n * maxLength),
  };
  texts.forEach((text, i) => {
    const e = tokenizer.encode(text, pairs?.[i], maxLength);
    batch.inputIds.set(e.ids, i * maxLength);
    batch.attentionMask.set(e.attentionMask, i * maxLength);
    batch.tokenTypeIds.set(e.tokenTypeIds, i * maxLength);
  });
  return batch;
}
