import { Template } from '@huggingface/jinja';
import { InputError } from '../errors.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

/** A special token as tokenizer_config.json writes it: a string, or an AddedToken object. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

const templates = new Map<string, Template>();

/**
 * Messages as the model was trained to read them: the tokenizer's own `chat_template` (Jinja, as
 * Hugging Face's `apply_chat_template` renders it, with the special tokens it offers;
 * @huggingface/jinja brings `raise_exception` itself). `addGenerationPrompt` ends the text with the assistant turn's opening, for
 * generation; without it the text ends after the last message, for training.
 */
export function renderChat(tokenizerConfig: Record<string, unknown>, messages: readonly ChatMessage[], opts: { addGenerationPrompt: boolean }): string {
  const source = tokenizerConfig.chat_template;
  if (typeof source !== 'string' || source.trim() === '') {
    throw new InputError("the model's tokenizer_config.json has no chat_template: send a plain prompt instead of chat messages");
  }
  let template = templates.get(source);
  if (!template) {
    try {
      template = new Template(source);
    } catch (err) {
      throw new InputError(`the model's chat_template is not a template tunespec can read: ${(err as Error).message}`);
    }
    templates.set(source, template);
  }
  try {
    return template.render({
      messages,
      add_generation_prompt: opts.addGenerationPrompt,
      bos_token: tokenText(tokenizerConfig.bos_token) ?? '',
      eos_token: tokenText(tokenizerConfig.eos_token) ?? '',
      unk_token: tokenText(tokenizerConfig.unk_token) ?? '',
      pad_token: tokenText(tokenizerConfig.pad_token) ?? '',
    });
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`the model's chat template failed on these messages: ${(err as Error).message}`);
  }
}
