import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { ChatRenderer, type PromptMessage } from '../data/chat-render.ts';
import { TextTokenizer } from '../data/tokenize.ts';
import { TextStream } from '../data/text-stream.ts';
import { selectEngine, type EngineName } from '../engine/backends.ts';
import type { LlamaConfig } from '../model/families/llama/config.ts';
import { ContextLengthError, decodeTokens, type FinishReason } from '../model/families/llama/generate.ts';
import { loadLlama } from '../model/families/llama/load.ts';
import { checkSampling, type Sampling } from '../model/families/llama/sample.ts';
import { resolveHfFolder } from '../model/hf/folder.ts';
import type { ModelRef } from './resolve-model.ts';

export interface GenerateRequest {
  /** A plain prompt, or chat messages rendered with the model's chat template. */
  prompt: string | readonly PromptMessage[];
  maxTokens: number;
  sampling: Sampling;
  /** Strings that end the answer; the answer stops before the first one and does not contain it. */
  stop: readonly string[];
  /** Called with each stable piece of text as it is decoded (never a split character). */
  onText?: (delta: string) => void;
  /** Ends decoding early (a client that went away); what was decoded so far is returned. */
  signal?: AbortSignal;
  /** Called once the prompt is tokenized and fits, before the first token: a server sends its headers then. */
  onStart?: (promptTokens: number) => void;
}

export interface GenerateResult {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
  /** Wall time of decoding (prompt included), for tokens/s. */
  seconds: number;
}

export interface TextGenerator {
  ref: ModelRef;
  engine: EngineName;
  config: LlamaConfig;
  /** Parameters, counted once (a tied head shares the embedding table). */
  parameters: number;
  /** Roughly what the loaded model holds in memory: 4 bytes a parameter (float32). */
  bytes: number;
  /** Token ids that end an answer (the end-of-sequence / end-of-turn tokens). */
  stopTokens: number[];
  generate(req: GenerateRequest): Promise<GenerateResult>;
  dispose(): void;
}

/** A Hugging Face folder's generation_config.json end tokens, when it has one. */
async function generationConfigEos(folder: string): Promise<number[]> {
  try {
    const json = JSON.parse(await readFile(join(folder, 'generation_config.json'), 'utf8')) as { eos_token_id?: unknown };
    return [json.eos_token_id].flat().filter((v): v is number => Number.isInteger(v));
  } catch {
    return [];
  }
}

const tokenText = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof (v as { content?: unknown })?.content === 'string' ? (v as { content: string }).content : undefined);

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/**
 * A generation model loaded for use: a fine-tuned variant's merged folder, a base model (a .gguf
 * file, a Hugging Face folder, hf:// or a URL, fetched into the model cache) or a path.
 */
export async function loadTextGenerator(ref: ModelRef): Promise<TextGenerator> {
  const engine = await selectEngine('auto', []);
  const { tf } = engine;
  let source = ref.source;
  let folder: string | undefined;
  if (!/\.gguf$/i.test(source)) {
    folder = (await resolveHfFolder(source, process.cwd(), { env: process.env })).folder;
    source = folder;
  }
  const { model, config, tokenizerJson, tokenizerConfig } = await loadLlama(tf, source);
  const tokenizer = new TextTokenizer(JSON.stringify(tokenizerJson), tokenizerConfig, `${source} (tokenizer)`);
  // The renderer training used, so a chat prompt is tokenized here as the model learned it.
  const renderer = new ChatRenderer(tokenizer, tokenizerConfig, config.eosTokenId, `${source} (tokenizer_config)`);
  const eosToken = tokenText(tokenizerConfig.eos_token);
  const eosFromTokenizer = eosToken === undefined ? undefined : tokenizer.tokenId(eosToken);
  const stopTokens = [...new Set([config.eosTokenId, eosFromTokenizer, ...(folder ? await generationConfigEos(folder) : [])].filter((v): v is number => typeof v === 'number'))];
  const parameters = model.countParams();
  const decode = (ids: number[]) => tokenizer.decode(ids);

  return {
    ref,
    engine: engine.name,
    config,
    parameters,
    bytes: parameters * 4,
    stopTokens,
    async generate(req) {
      checkSampling(req.sampling);
      // A plain prompt is encoded as the tokenizer does on its own (its post-processor's special
      // tokens included); a chat template writes its own (BOS included), as apply_chat_template does.
      const ids = typeof req.prompt === 'string' ? tokenizer.encodeWithSpecials(req.prompt) : renderer.chatIds(req.prompt);
      if (ids.length > config.maxPositions) throw new ContextLengthError(ids.length, config.maxPositions);
      if (ids.length === 0) throw new InputError('the prompt is empty: give at least one token of text');
      req.onStart?.(ids.length);
      const started = performance.now();
      const stream = new TextStream(decode, req.stop.filter((s) => s.length > 0));
      const steps = decodeTokens(tf, model, config, ids, { maxNewTokens: req.maxTokens, stop: stopTokens, sampling: req.sampling });
      let finishReason: FinishReason = 'length';
      try {
        for (;;) {
          if (req.signal?.aborted) {
            finishReason = 'stop';
            break;
          }
          const step = steps.next();
          if (step.done) {
            finishReason = step.value;
            break;
          }
          const delta = stream.push(step.value);
          if (delta) req.onText?.(delta);
          if (stream.stopped) {
            finishReason = 'stop';
            break;
          }
          // Other requests and connections get the event loop between tokens.
          await nextTurn();
        }
      } finally {
        steps.return('stop');
      }
      const rest = stream.flush();
      if (rest) req.onText?.(rest);
      return { text: stream.value, promptTokens: ids.length, completionTokens: stream.tokens, finishReason, seconds: (performance.now() - started) / 1000 };
    },
    dispose: () => model.dispose(),
  };
}
