import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import { InputError, ModelError } from '../../../errors.ts';
import type { LlamaConfig } from './config.ts';
import type { LlamaBlockLayer, LlamaEmbeddingLayer, LlamaHeadLayer, LlamaNormLayer } from './layers.ts';
import { attentionBias, decoderBlock, positionsFromMask, ropeTables } from './ops.ts';
import { GREEDY, tokenChooser, type Sampling } from './sample.ts';

/** Why decoding ended: a stop token or stop string ("stop"), or the token budget or the model's context ("length"), as OpenAI's API names it. */
export type FinishReason = 'stop' | 'length';

export interface DecodeOptions {
  maxNewTokens: number;
  /** Token ids that end the answer (not included in it). */
  stop: readonly number[];
  /** Greedy when absent. */
  sampling?: Sampling;
}

export interface GreedyOptions {
  maxNewTokens: number;
  /** Token ids that end the answer (not included in it). */
  stop: readonly number[];
  /** Called with each new token as it is chosen (streaming). */
  onToken?: (id: number) => void;
}

/** A prompt longer than the model's context (max_position_embeddings). */
export class ContextLengthError extends InputError {
  constructor(
    readonly promptTokens: number,
    readonly contextLength: number,
  ) {
    super(`the prompt is ${promptTokens} tokens and the model's context is ${contextLength} (max_position_embeddings): shorten the prompt`);
  }
}

/**
 * Decoding of one sequence with a KV cache, one token per step: the prompt runs once through the
 * model's layers, then each new token runs alone against the cached rotated keys and values of
 * every block. Uses the same block function as the model's forward pass, so both compute the same
 * numbers. Yields each chosen token and returns why it ended; a caller that stops early (a stop
 * string) calls `return()`, which frees the cache. Steps are synchronous: an async caller yields
 * to its event loop between them.
 */
export function* decodeTokens(tf: Tf, model: TF.LayersModel, cfg: LlamaConfig, prompt: readonly number[], opts: DecodeOptions): Generator<number, FinishReason, void> {
  if (prompt.length === 0) throw new ModelError('decoding needs at least one prompt token');
  const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= cfg.vocabSize);
  if (bad !== undefined) throw new ModelError(`token id ${bad} is outside the ${cfg.vocabSize}-token vocabulary`);
  if (prompt.length > cfg.maxPositions) throw new ContextLengthError(prompt.length, cfg.maxPositions);
  const choose = tokenChooser(opts.sampling ?? GREEDY);
  const embed = model.getLayer('model.embed_tokens') as LlamaEmbeddingLayer;
  const blocks = Array.from({ length: cfg.numLayers }, (_, i) => model.getLayer(`model.layers.${i}`) as LlamaBlockLayer);
  const norm = model.getLayer('model.norm') as LlamaNormLayer;
  const head = model.getLayer('lm_head') as LlamaHeadLayer;
  let cache: { k: TF.Tensor; v: TF.Tensor }[] = [];
  let produced = 0;
  let input = [...prompt];
  try {
    while (produced < opts.maxNewTokens) {
      const past = cache.length ? cache[0].k.shape[1]! : 0;
      // Every position of the context is taken: the last token was predicted, it cannot be read.
      if (past + input.length > cfg.maxPositions) return 'length';
      const [logits, ...kv] = tf.tidy(() => {
        const T = input.length;
        const mask = tf.ones([1, past + T], 'int32');
        const rope = ropeTables(tf, positionsFromMask(tf, mask, T), cfg.headDim, cfg.ropeTheta);
        const bias = attentionBias(tf, mask, T);
        let x = embed.lookup(tf.tensor2d([input], [1, T], 'int32'));
        const fresh: TF.Tensor[] = [];
        blocks.forEach((b, i) => {
          const r = decoderBlock(tf, b.blockWeights(), b.shape, x, rope, bias, cache[i]);
          x = r.out;
          fresh.push(r.k, r.v);
        });
        const last = tf.slice(x, [0, T - 1, 0], [1, 1, -1]);
        return [head.logits(norm.norm(last)).reshape([-1]), ...fresh];
      });
      tf.dispose(cache.flatMap((c) => [c.k, c.v]));
      cache = blocks.map((_, i) => ({ k: kv[2 * i], v: kv[2 * i + 1] }));
      const id = choose(logits.dataSync() as Float32Array);
      logits.dispose();
      if (opts.stop.includes(id)) return 'stop';
      produced++;
      yield id;
      input = [id];
    }
    return 'length';
  } finally {
    tf.dispose(cache.flatMap((c) => [c.k, c.v]));
  }
}

/** Greedy decoding to a token list (decodeTokens at temperature 0). */
export function greedyDecode(tf: Tf, model: TF.LayersModel, cfg: LlamaConfig, prompt: readonly number[], opts: GreedyOptions): number[] {
  const out: number[] = [];
  for (const id of decodeTokens(tf, model, cfg, prompt, { maxNewTokens: opts.maxNewTokens, stop: opts.stop })) {
    out.push(id);
    opts.onToken?.(id);
  }
  return out;
}
