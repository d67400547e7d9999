/** Whether an epoch's score beats the best so far by more than `minDelta`, in the metric's direction: what early stopping and the kept epoch go by. */
export function improved(value: number, best: number, mode: 'max' | 'min', minDelta: number): boolean {
  return mode === 'max' ? value > best + minDelta : value < best - minDelta;
}

/** Early stopping's part of a training loop's position (a checkpoint keeps it). */
export interface StoppingState {
  bestEpoch: number;
  sinceBest: number;
  stop: boolean;
}

/**
 * One finished epoch's monitored score, noted in `p`: the best score so far, and whether this epoch
 * set it (its weights are then the ones to keep). Without early stopping the best epoch is still
 * tracked, but patience never runs out.
 */
export function noteEpoch(
  p: StoppingState,
  epoch: number,
  score: number,
  best: number,
  mode: 'max' | 'min',
  earlyStopping?: { patience: number; min_delta: number },
): { best: number; improved: boolean } {
  if (improved(score, best, mode, earlyStopping?.min_delta ?? 0)) {
    p.bestEpoch = epoch;
    p.sinceBest = 0;
    return { best: score, improved: true };
  }
  if (earlyStopping && ++p.sinceBest > earlyStopping.patience) p.stop = true;
  return { best, improved: false };
}
