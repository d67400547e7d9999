import { readFile } from 'node:fs/promises';
import { DataError } from '../errors.ts';

/**
 * Chat data for `task: generation`: JSONL with one example per line, in the two shapes hosted
 * fine-tuning services take: `{"prompt": …, "completion": …}` or `{"messages": [{"role": …,
 * "content": …}, …]}`. Every problem names its `file:line`.
 */

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** One example as written: a prompt and its completion, or a conversation whose assistant turns are learned. */
export type ChatRecord = ({ kind: 'prompt'; prompt: string; completion: string } | { kind: 'messages'; messages: ChatMessage[] }) & {
  /** 1-based line in the file. */
  line: number;
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function fields(o: Record<string, unknown>): string {
  return Object.keys(o).map((k) => JSON.stringify(k)).join(', ') || 'no fields';
}

function message(m: unknown, i: number, file: string, line: number): ChatMessage {
  if (!isObject(m)) throw new DataError(`messages[${i}]: expected an object with "role" and "content", found ${JSON.stringify(m)?.slice(0, 60)}`, file, line);
  if (typeof m.role !== 'string' || !(CHAT_ROLES as readonly string[]).includes(m.role)) {
    throw new DataError(`messages[${i}].role: must be one of ${CHAT_ROLES.join(', ')}; found ${JSON.stringify(m.role)}`, file, line);
  }
  if (typeof m.content !== 'string') throw new DataError(`messages[${i}].content: expected a string, found ${JSON.stringify(m.content)?.slice(0, 60)}`, file, line);
  return { role: m.role as ChatRole, content: m.content };
}

/** One parsed line as a chat record, or a DataError saying what is wrong with it. */
export function chatRecord(value: unknown, file: string, line: number): ChatRecord {
  if (!isObject(value)) throw new DataError(`expected a JSON object per line, found ${Array.isArray(value) ? 'an array' : JSON.stringify(value)?.slice(0, 60)}`, file, line);
  if ('messages' in value) {
    if ('prompt' in value || 'completion' in value) throw new DataError('has both "messages" and "prompt"/"completion"; give one shape per line', file, line);
    if (!Array.isArray(value.messages) || value.messages.length === 0) throw new DataError('"messages": expected a non-empty list of {role, content}', file, line);
    const messages = value.messages.map((m, i) => message(m, i, file, line));
    if (!messages.some((m) => m.role === 'assistant')) throw new DataError('"messages": no assistant message, so nothing to learn from this line', file, line);
    return { kind: 'messages', messages, line };
  }
  if ('prompt' in value || 'completion' in value) {
    for (const k of ['prompt', 'completion'] as const) {
      if (!(k in value)) throw new DataError(`has "${k === 'prompt' ? 'completion' : 'prompt'}" but no "${k}"`, file, line);
      if (typeof value[k] !== 'string') throw new DataError(`"${k}": expected a string, found ${JSON.stringify(value[k])?.slice(0, 60)}`, file, line);
    }
    if ((value.completion as string) === '') throw new DataError('"completion": empty, so nothing to learn from this line', file, line);
    return { kind: 'prompt', prompt: value.prompt as string, completion: value.completion as string, line };
  }
  throw new DataError(`expected {"prompt", "completion"} or {"messages": [...]}; this line has ${fields(value)}`, file, line);
}

/** Every example of a chat JSONL file's text; blank lines are skipped. */
export function parseChatJsonl(content: string, file: string): ChatRecord[] {
  const records: ChatRecord[] = [];
  const lines = content.split('\n');
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new DataError(`not JSON: ${(err as Error).message}`, file, i + 1);
    }
    records.push(chatRecord(value, file, i + 1));
  });
  if (!records.length) throw new DataError('no examples: the file has no JSON lines', file);
  return records;
}

/** Read and check a chat JSONL file. */
export async function readChatFile(file: string): Promise<ChatRecord[]> {
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? 'no such file' : `cannot read: ${(err as Error).message}`, file);
  }
  return parseChatJsonl(content, file);
}
