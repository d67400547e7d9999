import { createRng } from '../../../data/rng.ts';
import { InputError } from '../../../errors.ts';

/** How the next token is chosen from the logits. */
export interface Sampling {
  /** 0: greedy (argmax, no randomness); above 0 the logits are divided by it before the softmax. */
  temperature: number;
  /** Keep only the k most likely tokens (0 or absent: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or absent: all). */
  topP?: number;
  /** Seed of the sampler's generator: the same seed, prompt and model give the same tokens. */
  seed?: number;
}

export const GREEDY: Sampling = { temperature: 0 };

/** The first index of the largest value, as tf.argMax picks it, so greedy sampling chooses what greedy decoding did. */
export function argMax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Checked sampling settings; a bad one is an InputError naming it. */
export function checkSampling(s: Sampling): void {
  const bad = (what: string) => {
    throw new InputError(what);
  };
  if (!Number.isFinite(s.temperature) || s.temperature < 0) bad(`temperature must be a number ≥ 0; got ${s.temperature}`);
  if (s.topK !== undefined && (!Number.isInteger(s.topK) || s.topK < 0)) bad(`top_k must be an integer ≥ 0; got ${s.topK}`);
  if (s.topP !== undefined && (!Number.isFinite(s.topP) || s.topP <= 0 || s.topP > 1)) bad(`top_p must be in (0, 1]; got ${s.topP}`);
  if (s.seed !== undefined && (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff)) bad(`seed must be an integer from 0 to 4294967295; got ${s.seed}`);
}

/**
 * A function from one position's logits to the next token id, in the order Hugging Face's
 * generate applies its warpers: temperature, then top-k, then top-p (nucleus), then one draw.
 * Without a seed, the draw's seed is random, as OpenAI's API does.
 */
export function tokenChooser(s: Sampling): (logits: Float32Array) => number {
  checkSampling(s);
  if (s.temperature === 0) return argMax;
  const rng = createRng(s.seed ?? Math.floor(Math.random() * 0x100000000));
  return (logits) => {
    // Tokens more than e^40 times less likely than the best add less than float64 can hold to the
    // softmax's sum: leaving them out before sorting makes a 49k-token vocabulary cheap.
    const top = logits[argMax(logits)] / s.temperature;
    const candidates: number[] = [];
    for (let i = 0; i < logits.length; i++) if (logits[i] / s.temperature - top > -40) candidates.push(i);
    const order = candidates.sort((a, b) => logits[b] - logits[a] || a - b);
    const k = s.topK ? Math.min(s.topK, order.length) : order.length;
    // Softmax over the kept tokens, shifted by the largest logit for stability.
    const weights: number[] = [];
    let total = 0;
    for (let i = 0; i < k; i++) {
      const w = Math.exp(logits[order[i]] / s.temperature - top);
      weights.push(w);
      total += w;
    }
    let kept = k;
    if (s.topP !== undefined && s.topP < 1) {
      // The smallest prefix whose mass reaches p; the most likely token always stays.
      let mass = 0;
      for (kept = 0; kept < k; ) {
        mass += weights[kept++] / total;
        if (mass >= s.topP) break;
      }
      total = weights.slice(0, kept).reduce((a, b) => a + b, 0);
    }
    let draw = rng() * total;
    for (let i = 0; i < kept; i++) {
      draw -= weights[i];
      if (draw < 0) return order[i];
    }
    return order[kept - 1];
  };
}
