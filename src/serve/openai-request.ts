import type { PromptMessage as ChatMessage } from '../data/chat-render.ts';
import type { Sampling } from '../model/families/llama/sample.ts';
import { badParam } from './api-error.ts';

/** A completion or chat completion request, checked, in tunespec's terms. */
export interface CompletionRequest {
  model: string;
  prompt: string | ChatMessage[];
  /** As asked, else DEFAULT_COMPLETION_MAX_TOKENS or DEFAULT_CHAT_MAX_TOKENS. */
  maxTokens: number;
  sampling: Sampling;
  stop: string[];
  stream: boolean;
  /** stream_options.include_usage: a last chunk with the token counts. */
  streamUsage: boolean;
}

/** OpenAI's default for /v1/completions. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;
/** OpenAI lets a chat answer run to the context's end; a small CPU model would take minutes to get there, so an unset max_tokens means this many. */
export const DEFAULT_CHAT_MAX_TOKENS = 512;

type Body = Record<string, unknown>;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function optionalNumber(body: Body, key: string, ok: (n: number) => boolean, what: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!isNum(v) || !ok(v)) throw badParam(key, `${key} must be ${what}; got ${JSON.stringify(v)}`);
  return v;
}

const int = (n: number) => Number.isInteger(n);

/** Fields tunespec cannot honour: refused by name rather than silently ignored. */
function refuseUnsupported(body: Body): void {
  const n = body.n;
  if (n !== undefined && n !== null && n !== 1) throw badParam('n', 'n must be 1: tunespec generates one choice per request');
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== 1) throw badParam('best_of', 'best_of must be 1');
  if (body.echo === true) throw badParam('echo', 'echo is not supported');
  for (const key of ['logprobs', 'top_logprobs', 'tools', 'functions', 'logit_bias'] as const) {
    const v = body[key];
    if (v !== undefined && v !== null && v !== false && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)) {
      throw badParam(key, `${key} is not supported`);
    }
  }
  for (const key of ['presence_penalty', 'frequency_penalty'] as const) {
    const v = body[key];
    if (v !== undefined && v !== null && v !== 0) throw badParam(key, `${key} is not supported (only 0)`);
  }
  const format = body.response_format as { type?: unknown } | undefined;
  if (format && format.type !== 'text') throw badParam('response_format', 'response_format must be {"type": "text"}: structured output is not supported');
}

function stopOf(body: Body): string[] {
  const stop = body.stop;
  if (stop === undefined || stop === null) return [];
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || list.length > 4 || list.some((s) => typeof s !== 'string')) throw badParam('stop', 'stop must be a string or an array of at most 4 strings');
  return list as string[];
}

function common(body: Body, defaultMaxTokens: number, maxTokensKey: 'max_tokens' | 'max_completion_tokens' = 'max_tokens'): Omit<CompletionRequest, 'prompt'> {
  if (typeof body.model !== 'string' || body.model === '') throw badParam('model', 'you must provide a model parameter');
  refuseUnsupported(body);
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw badParam('stream', 'stream must be true or false');
  const options = body.stream_options as { include_usage?: unknown } | undefined | null;
  if (options !== undefined && options !== null && typeof options !== 'object') throw badParam('stream_options', 'stream_options must be an object');
  const maxTokens =
    optionalNumber(body, maxTokensKey, (n) => int(n) && n >= 1, 'an integer ≥ 1') ?? optionalNumber(body, 'max_tokens', (n) => int(n) && n >= 1, 'an integer ≥ 1') ?? defaultMaxTokens;
  return {
    model: body.model,
    maxTokens,
    sampling: {
      temperature: optionalNumber(body, 'temperature', (n) => n >= 0 && n <= 2, 'a number from 0 to 2') ?? 1,
      topP: optionalNumber(body, 'top_p', (n) => n > 0 && n <= 1, 'a number in (0, 1]') ?? 1,
      // Not OpenAI's: vLLM's and llama.cpp's servers take it too.
      topK: optionalNumber(body, 'top_k', (n) => int(n) && n >= 0, 'an integer ≥ 0') ?? 0,
      seed: optionalNumber(body, 'seed', (n) => int(n) && n >= 0 && n <= 0xffffffff, 'an integer from 0 to 4294967295'),
    },
    stop: stopOf(body),
    stream: body.stream === true,
    streamUsage: body.stream === true && options?.include_usage === true,
  };
}

/** POST /v1/completions: `prompt` is one string (or a list holding one). */
export function parseCompletionRequest(body: Body): CompletionRequest {
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') prompt = prompt[0];
  if (typeof prompt !== 'string') {
    throw badParam('prompt', Array.isArray(prompt) ? 'prompt must be one string: batches of prompts and token arrays are not supported' : 'prompt must be a string');
  }
  if (body.suffix !== undefined && body.suffix !== null && body.suffix !== '') throw badParam('suffix', 'suffix is not supported');
  return { ...common(body, DEFAULT_COMPLETION_MAX_TOKENS), prompt };
}

/** A message's content: a string, or text parts (`[{type: "text", text}]`) put together. */
function contentOf(content: unknown, i: number): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content
      .map((part, j) => {
        const p = part as { type?: unknown; text?: unknown };
        if (p?.type !== 'text' || typeof p.text !== 'string') throw badParam(`messages[${i}].content[${j}]`, 'only text content parts ({"type": "text", "text": …}) are supported');
        return p.text;
      })
      .join('');
  }
  throw badParam(`messages[${i}].content`, 'content must be a string or a list of text parts');
}

/** POST /v1/chat/completions: `messages` rendered later with the model's chat template. */
export function parseChatRequest(body: Body): CompletionRequest {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw badParam('messages', 'messages must be a non-empty array of {role, content}');
  const prompt = messages.map((m, i) => {
    const role = (m as { role?: unknown })?.role;
    if (typeof role !== 'string' || !['system', 'developer', 'user', 'assistant', 'tool'].includes(role)) {
      throw badParam(`messages[${i}].role`, `messages[${i}].role must be one of system, developer, user, assistant, tool; got ${JSON.stringify(role)}`);
    }
    // Chat templates written before OpenAI's "developer" role know it as "system".
    return { role: role === 'developer' ? 'system' : role, content: contentOf((m as { content?: unknown }).content, i) };
  });
  return { ...common(body, DEFAULT_CHAT_MAX_TOKENS, 'max_completion_tokens'), prompt };
}
