import { createRng } from '../data/rng.ts';

/**
 * tfjs draws the seeds of weight initialisers, dropout masks and shuffles from Math.random when
 * none is given, so a run is only repeatable if Math.random is. Variants train one at a time, so
 * swapping it for the duration of one is safe; it is always restored.
 */
export async function withSeededMathRandom<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = createRng(seed ^ 0x5eed);
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}
