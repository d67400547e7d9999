import { ModelError } from '../../errors.ts';
import { meta, type GgufFile } from './read.ts';

/**
 * A Hugging Face tokenizer.json (and tokenizer_config.json) rebuilt from a GGUF's tokenizer
 * metadata, for byte-level BPE vocabularies (`tokenizer.ggml.model` "gpt2"). The pre-tokenizer
 * follows llama.cpp's `tokenizer.ggml.pre`: "smollm" splits every digit on its own before the GPT-2
 * byte-level split (its regexes are "\p{N}" then GPT-2's), "gpt2"/"default" is the byte-level split
 * alone. Token type 3 (control) marks special tokens, 4 (user-defined) added non-special ones.
 */
const PRE_TOKENIZERS: Record<string, unknown[]> = {
  smollm: [{ type: 'Digits', individual_digits: true }],
  gpt2: [],
  default: [],
};

const CONTROL = 3;
const USER_DEFINED = 4;

export interface GgufTokenizer {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

export function ggufTokenizer(file: GgufFile): GgufTokenizer {
  const model = meta(file, 'tokenizer.ggml.model', 'string');
  if (model !== 'gpt2') throw new ModelError(`${file.where}: tokenizer.ggml.model "${model}" is not supported (only "gpt2", byte-level BPE)`, file.where);
  const pre = meta(file, 'tokenizer.ggml.pre', 'string', true) ?? 'default';
  const split = PRE_TOKENIZERS[pre];
  if (!split) throw new ModelError(`${file.where}: tokenizer.ggml.pre "${pre}" is not supported (supported: ${Object.keys(PRE_TOKENIZERS).join(', ')})`, file.where);
  const tokens = meta(file, 'tokenizer.ggml.tokens', 'array') as string[];
  const merges = meta(file, 'tokenizer.ggml.merges', 'array') as string[];
  const types = (meta(file, 'tokenizer.ggml.token_type', 'array', true) ?? []) as number[];
  const token = (key: string): string | undefined => {
    const id = meta(file, key, 'number', true);
    if (id === undefined) return undefined;
    if (!Number.isInteger(id) || id < 0 || id >= tokens.length) throw new ModelError(`${file.where}: ${key} is ${id}, outside the ${tokens.length}-token vocabulary`, file.where);
    return tokens[id];
  };
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => (vocab[t] = i));
  const added = tokens.flatMap((content, id) =>
    types[id] === CONTROL || types[id] === USER_DEFINED
      ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: types[id] !== CONTROL, special: types[id] === CONTROL }]
      : [],
  );
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: split.length ? { type: 'Sequence', pretokenizers: [...split, byteLevel] } : byteLevel,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: token('tokenizer.ggml.unknown_token_id') ?? null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const config: Record<string, unknown> = {
    tokenizer_class: 'GPT2Tokenizer',
    add_bos_token: file.metadata.get('tokenizer.ggml.add_bos_token') === true,
    add_eos_token: file.metadata.get('tokenizer.ggml.add_eos_token') === true,
    clean_up_tokenization_spaces: false,
    bos_token: token('tokenizer.ggml.bos_token_id') ?? null,
    eos_token: token('tokenizer.ggml.eos_token_id') ?? null,
    unk_token: token('tokenizer.ggml.unknown_token_id') ?? null,
    pad_token: token('tokenizer.ggml.padding_token_id') ?? null,
  };
  const contextLength = file.metadata.get(`${file.metadata.get('general.architecture')}.context_length`);
  if (typeof contextLength === 'number') config.model_max_length = contextLength;
  const template = meta(file, 'tokenizer.chat_template', 'string', true);
  if (template !== undefined) config.chat_template = template;
  return { tokenizerJson, tokenizerConfig: config };
}
