import { createRng, type Rng } from '../data/rng.ts';

/**
 * tfjs draws the seeds of weight initialisers, dropout masks and shuffles from Math.random when
 * none is given, so a run is only repeatable if Math.random is. Variants train one at a time, so
 * swapping it for the duration of one is safe; it is always restored. `fn` gets the generator, whose
 * state a checkpoint saves (dropout masks drawn after a resume must be the ones an unbroken run draws).
 */
export async function withSeededMathRandom<T>(seed: number, fn: (random: Rng) => Promise<T>): Promise<T> {
  const original = Math.random;
  const random = createRng(seed ^ 0x5eed);
  Math.random = random;
  try {
    return await fn(random);
  } finally {
    Math.random = original;
  }
}
