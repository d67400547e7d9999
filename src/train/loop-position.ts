import type { Checkpoint } from './checkpoint.ts';
import type { StoppingState } from './early-stopping.ts';
import type { EpochMetrics } from './events.ts';

/**
 * Where a training loop stands, as its checkpoint keeps it (the tensors go beside it): what both
 * loops (train/fit.ts, train/causal-fit.ts) hold, each adding the sums of its epoch in progress.
 */
export interface LoopPosition extends StoppingState {
  /** The epoch in progress (0-based), and how many of its steps are done: 0 at an epoch boundary. */
  epoch: number;
  batch: number;
  /** Seconds the epoch in progress had run before the checkpoint. */
  elapsed: number;
  /** The state of the generator behind shuffles (and augmentation), and of the seeded Math.random (dropout). */
  rng: number;
  random?: number;
  /** The best monitored value, null before any epoch. */
  best: number | null;
  epochsRun: number;
  /** Every finished epoch's metrics and when it ended, as the sinks got them. */
  history: { epoch: number; metrics: EpochMetrics; at: number }[];
}

/** Where a checkpoint of either loop resumes: finished epochs, steps of the next, and the finished epochs' metrics. */
export function resumePoint(c: Checkpoint): Pick<LoopPosition, 'epoch' | 'batch' | 'history'> {
  const p = c.state as unknown as LoopPosition;
  return { epoch: p.epoch, batch: p.batch, history: p.history };
}
