// Hugging Face's `longest_first` truncation, as the Rust `tokenizers` computes it (stride 0, right
// side): a single text keeps its first `budget` tokens; for a pair, the shorter text is kept whole
// when the longer one can absorb the cut, else both get half the budget (the odd token goes to the
// longer one). `budget` is max_length less the special tokens.
export function truncateLongestFirst<T>(a: T[], b: T[] | undefined, budget: number): [T[], T[] | undefined] {
  if (b === undefined) return [a.slice(0, budget), undefined];
  if (a.length + b.length <= budget) return [a, b];
  const swap = a.length > b.length;
  let short = Math.min(a.length, b.length);
  let long = short > budget ? short : Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  const [na, nb] = swap ? [long, short] : [short, long];
  return [a.slice(0, na), b.slice(0, nb)];
}
