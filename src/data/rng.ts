// Splits and augmentation must come out identical on every machine and Node version, which
// Math.random cannot promise; mulberry32 is tiny, fast and uses only 32-bit integer arithmetic.

/** A generator of floats in [0, 1); `state` is all it remembers, so a checkpoint can save and restore it. */
export interface Rng {
  (): number;
  state: number;
}

export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
  let state = seed >>> 0;
  const next = (() => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  Object.defineProperty(next, 'state', {
    get: () => state,
    set: (s: number) => {
      state = s >>> 0;
    },
  });
  return next;
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
