/** Whether an epoch's score beats the best so far by more than `minDelta`, in the metric's direction: what early stopping and the kept epoch go by. */
export function improved(value: number, best: number, mode: 'max' | 'min', minDelta: number): boolean {
  return mode === 'max' ? value > best + minDelta : value < best - minDelta;
}
