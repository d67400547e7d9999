import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRateAt } from '../../src/train/schedule.ts';
import { modeFor } from '../../src/spec/derived.ts';
import type { TrainingSpec } from '../../src/spec/types.ts';

function training(schedule: TrainingSpec['schedule'], epochs = 5): TrainingSpec {
  return {
    epochs,
    batch_size: 32,
    optimizer: 'adam',
    momentum: 0,
    learning_rate: 0.1,
    schedule,
    loss: 'categorical_crossentropy',
    metrics: ['accuracy'],
    seed: 0,
    objective: { metric: 'val_accuracy' },
  };
}

const rates = (t: TrainingSpec): number[] => Array.from({ length: t.epochs }, (_, e) => Number(learningRateAt(t, e).toPrecision(6)));

test('constant keeps the rate', () => {
  assert.deepEqual(rates(training({ type: 'constant' })), [0.1, 0.1, 0.1, 0.1, 0.1]);
});

test('step decay multiplies by factor every N epochs', () => {
  assert.deepEqual(rates(training({ type: 'step', every: 2, factor: 0.5 })), [0.1, 0.1, 0.05, 0.05, 0.025]);
});

test('cosine goes from the rate to the minimum over the run', () => {
  assert.deepEqual(rates(training({ type: 'cosine', min_learning_rate: 0 })), [0.1, 0.0853553, 0.05, 0.0146447, 0]);
  assert.deepEqual(rates(training({ type: 'cosine', min_learning_rate: 0.01 }, 1)), [0.1]);
});

test('warmup climbs in equal steps, then holds', () => {
  assert.deepEqual(rates(training({ type: 'warmup', epochs: 3 })), [0.025, 0.05, 0.075, 0.1, 0.1]);
});

test('losses are minimised and accuracies maximised unless the spec says otherwise', () => {
  assert.equal(modeFor('val_loss', undefined), 'min');
  assert.equal(modeFor('val_accuracy', undefined), 'max');
  assert.equal(modeFor('val_loss', 'max'), 'max');
});
