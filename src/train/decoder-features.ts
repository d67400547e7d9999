import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import type { FrozenFeatureCache } from '../engine/feature-cache.ts';
import type { ChatExample } from '../data/chat-dataset.ts';
import { sha256Hex } from '../data/digest.ts';
import type { LlamaEmbeddingLayer } from '../model/families/llama/layers.ts';
import type { FeatureCacheReport } from './frozen-features.ts';
import { VariantFailure } from './failure.ts';

/**
 * The frozen-block cache of a generation variant: the hidden states entering its first trainable
 * block, for every example, computed once and kept in the feature cache, so variants that differ
 * only above that block (LoRA rank, learning rate) never run the frozen blocks again.
 */

/** Where training starts from the cache: the block whose input the hidden states are, and their width. */
export interface DecoderBoundary {
  block: number;
  hidden: number;
}

/** Each example's hidden states at the boundary, [its length × hidden], in dataset order. */
export interface DecoderFeatures {
  boundary: DecoderBoundary;
  rows: Float32Array[];
}

const FORMAT = 1;
/** Examples per forward pass while computing: each batch is padded to its longest. */
const BATCH = 8;

const blockIndex = (name: string): number | undefined => {
  const m = /^model\.layers\.(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
};

/**
 * The decoder's first trainable block: the lowest block with trainable weights (LoRA's or its
 * own), or the block count when only the final norm or an untied LM head trains. Undefined, with
 * why, when nothing below it is frozen to cache.
 */
export function firstTrainableBlock(model: TF.LayersModel): { block: number } | { reason: string } {
  if (model.getLayer('model.embed_tokens').trainableWeights.length) return { reason: 'the token embeddings train, so no frozen blocks come before the trainable ones' };
  const blocks = model.layers.filter((l) => blockIndex(l.name) !== undefined);
  const trainable = blocks.filter((l) => l.trainableWeights.length).map((l) => blockIndex(l.name)!);
  const block = trainable.length ? Math.min(...trainable) : blocks.length;
  if (block === 0) return { reason: 'block 0 trains, so no frozen block comes before it' };
  return { block };
}

/** Blocks 0 … block−1 on a batch of examples padded on the right; each example's rows [length × H]. */
function hiddenAt(tf: Tf, model: TF.LayersModel, examples: readonly ChatExample[], block: number, padId: number): Float32Array[] {
  const T = Math.max(...examples.map((e) => e.ids.length));
  const B = examples.length;
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Int32Array(B * T);
  examples.forEach((e, r) => {
    ids.set(e.ids, r * T);
    mask.fill(1, r * T, r * T + e.ids.length);
  });
  const out = tf.tidy(() => {
    const m = tf.tensor2d(mask, [B, T], 'int32');
    let x = (model.getLayer('model.embed_tokens') as LlamaEmbeddingLayer).lookup(tf.tensor2d(ids, [B, T], 'int32'));
    for (let i = 0; i < block; i++) x = model.getLayer(`model.layers.${i}`).apply([x, m], { training: false }) as TF.Tensor;
    return x;
  });
  const H = out.shape[2]!;
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return examples.map((e, r) => values.slice(r * T * H, (r * T + e.ids.length) * H));
}

export interface DecoderFeatureRequest {
  tf: Tf;
  model: TF.LayersModel;
  examples: readonly ChatExample[];
  padId: number;
  /** What the key is made of besides the boundary: the base's digest, the examples' digest (tokenizer and max_length in it), the engine. */
  baseDigest: string;
  dataDigest: string;
  tokenizerDigest: string;
  maxLength: number;
  engine: string;
  /** Undefined when turned off (--no-feature-cache): the variant trains end to end. */
  cache?: FrozenFeatureCache;
}

/**
 * The hidden states at the first trainable block for every example, from the cache or computed
 * once and stored there; undefined, with the reason, when the variant trains end to end.
 */
export async function decoderFeatures(req: DecoderFeatureRequest): Promise<{ report: FeatureCacheReport; features?: DecoderFeatures }> {
  if (!req.cache) return { report: { status: 'off', detail: 'turned off (--no-feature-cache)' } };
  const first = firstTrainableBlock(req.model);
  if ('reason' in first) return { report: { status: 'off', detail: first.reason } };
  const { block } = first;
  const layer = `model.layers.${block}`;
  const boundary = block < req.model.layers.filter((l) => blockIndex(l.name) !== undefined).length ? `the input of ${layer}` : 'the output of the last block';
  const H = (req.model.getLayer('model.embed_tokens') as LlamaEmbeddingLayer).table().shape[0];
  const key = sha256Hex([
    JSON.stringify({ v: `tunespec-decoder-features-v${FORMAT}`, base: req.baseDigest, data: req.dataDigest, tokenizer: req.tokenizerDigest, max_length: req.maxLength, block, engine: req.engine }),
  ]).slice(0, 32);
  const lengths = req.examples.map((e) => e.ids.length);
  const tokens = lengths.reduce((a, b) => a + b, 0);
  const split = (flat: Float32Array): Float32Array[] => {
    let at = 0;
    return lengths.map((n) => flat.subarray(at * H, (at += n) * H));
  };
  const hit = await req.cache.get(key);
  if (hit && hit.meta.rows === tokens && hit.meta.shape.join() === String(H)) {
    return {
      report: { status: 'hit', detail: `hidden states at ${boundary} from the cache, saving ${hit.meta.seconds.toFixed(1)}s (${req.engine})`, boundary: layer, engine: req.engine, savedSeconds: hit.meta.seconds },
      features: { boundary: { block, hidden: H }, rows: split(hit.features) },
    };
  }
  const started = performance.now();
  const flat = new Float32Array(tokens * H);
  let at = 0;
  for (let i = 0; i < req.examples.length; i += BATCH) {
    for (const rows of hiddenAt(req.tf, req.model, req.examples.slice(i, i + BATCH), block, req.padId)) {
      flat.set(rows, at);
      at += rows.length;
    }
    // A macrotask turn: signals and progress timers are seen during a long computation.
    await new Promise((resolve) => setImmediate(resolve));
  }
  let bad = 0;
  for (let i = 0; i < flat.length; i++) if (!Number.isFinite(flat[i])) bad++;
  if (bad) throw new VariantFailure(`the frozen blocks output ${bad} NaN or infinite values at ${boundary}`);
  const seconds = (performance.now() - started) / 1000;
  await req.cache.put({ key, boundary: layer, shape: [H], rows: tokens, engine: req.engine, seconds, createdAt: new Date().toISOString() }, flat);
  return {
    report: { status: 'miss', detail: `hidden states at ${boundary} computed in ${seconds.toFixed(1)}s (${req.engine}) and cached`, boundary: layer, engine: req.engine, seconds },
    features: { boundary: { block, hidden: H }, rows: split(flat) },
  };
}
