// Splits and augmentation must come out identical on every machine and Node version, which
// Math.random cannot promise; mulberry32 is tiny, fast and uses only 32-bit integer arithmetic.

export function createRng(seed: number): () => number {
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates; returns `arr` for chaining. Works on plain and typed arrays. */
export function shuffleInPlace<A extends { length: number; [index: number]: unknown }>(arr: A, rng: () => number): A {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = arr[i];
    arr[i] = arr[j];
    arr[j] = tmp;
  }
  return arr;
}
