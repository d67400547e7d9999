import type { TrainingSpec } from '../spec/types.ts';

/** Learning rate for a 0-based epoch, for the schedules that change the rate between epochs only. */
export function learningRateAt(training: TrainingSpec, epoch: number): number {
  const lr = training.learning_rate;
  const s = training.schedule;
  switch (s.type) {
    case 'constant':
      return lr;
    case 'step':
      return lr * s.factor ** Math.floor(epoch / s.every);
    case 'cosine': {
      const t = training.epochs > 1 ? epoch / (training.epochs - 1) : 0;
      return s.min_learning_rate + ((lr - s.min_learning_rate) * (1 + Math.cos(Math.PI * t))) / 2;
    }
    case 'warmup':
      return epoch < s.epochs ? (lr * (epoch + 1)) / (s.epochs + 1) : lr;
    case 'warmup_linear':
    case 'warmup_cosine':
      throw new RangeError(`the ${s.type} schedule changes the rate every batch: use learningRateAtStep`);
  }
}

/** Warmup steps of a per-batch schedule: a count, or a fraction of all steps rounded up (as Hugging Face's warmup_ratio). */
export function warmupSteps(schedule: { warmup_steps?: number; warmup_fraction?: number }, totalSteps: number): number {
  return schedule.warmup_steps ?? Math.ceil((schedule.warmup_fraction ?? 0) * totalSteps);
}

/**
 * Learning rate for the 0-based optimizer step `step` of a run of `stepsPerEpoch` batches per
 * epoch. Per-batch schedules follow Hugging Face's `get_linear_schedule_with_warmup` and
 * `get_cosine_schedule_with_warmup` (so the first warmup step runs at rate 0, and decay reaches
 * min_learning_rate where the step after the last would be); the others hold within an epoch.
 */
export function learningRateAtStep(training: TrainingSpec, step: number, stepsPerEpoch: number): number {
  const s = training.schedule;
  if (s.type !== 'warmup_linear' && s.type !== 'warmup_cosine') return learningRateAt(training, Math.floor(step / stepsPerEpoch));
  const lr = training.learning_rate;
  const total = training.epochs * stepsPerEpoch;
  const warmup = warmupSteps(s, total);
  if (step < warmup) return (lr * step) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  const fall = s.type === 'warmup_linear' ? 1 - progress : (1 + Math.cos(Math.PI * progress)) / 2;
  return s.min_learning_rate + (lr - s.min_learning_rate) * fall;
}

