import type { TrainingSpec } from '../spec/types.ts';

/** Learning rate for a 0-based epoch; schedules change the rate between epochs, not within one. */
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
  }
}
