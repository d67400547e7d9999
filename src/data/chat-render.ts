import { Template } from '@huggingface/jinja';
import { InputError } from '../errors.ts';
import { DataError } from './errors.ts';
import type { ChatMessage, ChatRecord } from './readers/chat.ts';
import type { TextTokenizer } from './tokenize.ts';

/**
 * Chat examples as a decoder trains on them: token ids, and a label mask that is 1 on the tokens the
 * loss counts (the completion, or every assistant turn, through its end-of-turn token).
 *
 * With a chat template in tokenizer_config.json (rendered with @huggingface/jinja, given
 * `messages`, `add_generation_prompt` and the special tokens, as transformers'
 * apply_chat_template does): a prompt/completion pair is a user message and the assistant's
 * answer; each assistant turn is located by rendering the conversation incrementally, as TRL's
 * assistant masks are: the turn's text is what `messages[:i+1]` adds to `messages[:i]` rendered
 * with the generation prompt, cut after the end-of-sequence token when the turn holds one (the
 * template's newline after it is not learned). Without a template: `prompt + completion + eos`.
 *
 * The text is tokenized piece by piece (each prompt part, each learned part), never across a
 * boundary, so a prompt's tokens are the ones it has alone, as at generation time.
 */
export interface RenderedExample {
  ids: number[];
  labels: number[];
}

/** A message as a client sends it (OpenAI's chat completions): any role the template knows. */
export interface PromptMessage {
  role: string;
  content: string;
}

type SpecialTokens = Record<string, string>;

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** tokenizer_config.json's chat_template: a string, or the "default" of a named list. */
function templateText(config: Record<string, unknown>): string | undefined {
  const t = config.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return (t.find((x) => x?.name === 'default') as { template?: string } | undefined)?.template;
  return undefined;
}

export class ChatRenderer {
  private readonly template?: Template;
  private readonly special: SpecialTokens = {};
  readonly eosId: number | undefined;
  private readonly bosId: number | undefined;
  private readonly addBos: boolean;

  constructor(
    private readonly tokenizer: TextTokenizer,
    config: Record<string, unknown>,
    /** The model's end-of-sequence id when the tokenizer config names none (config.json's eos_token_id). */
    fallbackEos: number | null = null,
    private readonly where = 'tokenizer_config.json',
  ) {
    for (const key of SPECIAL_KEYS) {
      const text = tokenText(config[key]);
      if (text !== undefined) this.special[key] = text;
    }
    const text = templateText(config);
    if (text !== undefined) {
      try {
        this.template = new Template(text);
      } catch (err) {
        throw new DataError(`chat_template: cannot parse it: ${(err as Error).message}`, where);
      }
    }
    const eos = this.special.eos_token;
    this.eosId = (eos === undefined ? undefined : tokenizer.tokenId(eos)) ?? fallbackEos ?? undefined;
    const bos = this.special.bos_token;
    this.bosId = bos === undefined ? undefined : tokenizer.tokenId(bos);
    this.addBos = config.add_bos_token === true && this.bosId !== undefined;
  }

  get hasTemplate(): boolean {
    return this.template !== undefined;
  }

  private render(messages: readonly PromptMessage[], addGenerationPrompt: boolean): string {
    try {
      return this.template!.render({ messages: [...messages], add_generation_prompt: addGenerationPrompt, ...this.special });
    } catch (err) {
      throw new DataError(`chat_template: rendering failed: ${(err as Error).message}`, this.where);
    }
  }

  /** A prompt as the model is asked it: as a user message with the generation prompt, or as written without a template. */
  promptIds(prompt: string): number[] {
    if (this.template) return this.chatIds([{ role: 'user', content: prompt }]);
    return [...(this.addBos ? [this.bosId!] : []), ...this.tokenizer.encodeText(prompt)];
  }

  /**
   * A client's conversation as the model is asked it (`generate --chat`, /v1/chat/completions):
   * rendered with the generation prompt and tokenized exactly as a training example's prompt part
   * is, so a fine-tuned model sees at serving time the tokens it learned from. A conversation the
   * template cannot take (no template, or the template raises) is the client's error.
   */
  chatIds(messages: readonly PromptMessage[]): number[] {
    if (!this.template) throw new InputError("the model's tokenizer_config.json has no chat_template: send a plain prompt instead of chat messages");
    let text: string;
    try {
      text = this.template.render({ messages: [...messages], add_generation_prompt: true, ...this.special });
    } catch (err) {
      throw new InputError(`the model's chat template failed on these messages: ${(err as Error).message}`);
    }
    return this.tokenizer.encodeText(text);
  }

  /** One example's ids and label mask (before truncation). */
  example(record: ChatRecord, file: string): RenderedExample {
    if (this.template) {
      const messages = record.kind === 'prompt' ? [{ role: 'user' as const, content: record.prompt }, { role: 'assistant' as const, content: record.completion }] : record.messages;
      return this.conversation(messages, file, record.line);
    }
    if (record.kind === 'messages') {
      throw new DataError('"messages" need a chat template, and the base model\'s tokenizer has none (tokenizer_config.json chat_template); write prompt/completion lines instead', file, record.line);
    }
    if (this.eosId === undefined) throw new DataError('the tokenizer names no end-of-sequence token, so a completion cannot be ended', this.where);
    const prompt = [...(this.addBos ? [this.bosId!] : []), ...this.tokenizer.encodeText(record.prompt)];
    const completion = [...this.tokenizer.encodeText(record.completion), this.eosId];
    return { ids: [...prompt, ...completion], labels: [...prompt.map(() => 0), ...completion.map(() => 1)] };
  }

  /** Character spans of the learned text of each assistant turn, located by incremental rendering. */
  private conversation(messages: ChatMessage[], file: string, line: number): RenderedExample {
    const full = this.render(messages, false);
    const eos = this.special.eos_token;
    const spans: [number, number][] = [];
    messages.forEach((m, i) => {
      if (m.role !== 'assistant') return;
      const before = this.render(messages.slice(0, i), true);
      const upto = this.render(messages.slice(0, i + 1), false);
      if (!upto.startsWith(before) || !full.startsWith(upto)) {
        throw new DataError(
          `messages[${i}]: the chat template does not render this conversation incrementally (the text before the assistant turn changes once it is added), so the turn cannot be located`,
          file,
          line,
        );
      }
      let end = upto.length;
      const k = eos === undefined ? -1 : upto.lastIndexOf(eos);
      if (k >= before.length) end = k + eos!.length;
      spans.push([before.length, end]);
    });
    const ids: number[] = [];
    const labels: number[] = [];
    const piece = (from: number, to: number, label: number): void => {
      if (to <= from) return;
      const t = this.tokenizer.encodeText(full.slice(from, to));
      ids.push(...t);
      labels.push(...t.map(() => label));
    };
    let at = 0;
    for (const [from, to] of spans) {
      piece(at, from, 0);
      piece(from, to, 1);
      at = to;
    }
    piece(at, full.length, 0);
    return { ids, labels };
  }
}
