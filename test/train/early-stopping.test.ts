// Early stopping keeps the best epoch's weights, and a loss that stops being a number fails the
// variant, not the sweep.
import { test } from 'node:test';
import { inspect } from 'node:util';
import assert from 'node:assert/strict';
import type { EpochMetrics, SweepListener } from '../../src/train/events.ts';
import { baseSpec, runSpec, tempDir } from './helpers.ts';

interface EpochTrace {
  listener: SweepListener;
  epochs: Map<string, EpochMetrics[]>;
}

function traceEpochs(): EpochTrace {
  const epochs = new Map<string, EpochMetrics[]>();
  return {
    epochs,
    listener: {
      onEpochEnd: (info, epoch, m) => {
        const list = epochs.get(info.variant.id) ?? [];
        assert.equal(epoch, list.length, 'epochs are reported in order, 0-based');
        list.push(m);
        epochs.set(info.variant.id, list);
      },
    },
  };
}

for (const patience of [0, 1]) {
  test(`early stopping on val_loss (patience ${patience}) stops early and keeps the best epoch's weights`, async () => {
    const dir = await tempDir();
    const spec = baseSpec();
    const epochs = 6;
    // Adam at 0.03 improves val_loss for three epochs on this sample, then overfits.
    spec.training = { ...(spec.training as object), epochs, learning_rate: 0.03, early_stopping: { monitor: 'val_loss', patience } };
    const t = traceEpochs();
    const run = await runSpec(dir, spec, 'wasm', [t.listener]);
    const result = run.ordered[0];
    assert.equal(result.status, 'completed', result.reason);
    const trace = t.epochs.get(run.loaded.plan.variants[0].id)!.map((m) => m.val_loss);

    // Where it should have stopped: `patience` epochs without improvement after the best so far.
    let best = 0;
    let stopAt = epochs;
    for (let e = 1; e < trace.length; e++) {
      if (trace[e] < trace[best]) best = e;
      else if (e - best > patience) {
        stopAt = e + 1;
        break;
      }
    }
    const m = result.metrics!;
    assert.equal(m.epochs_run, trace.length, 'epochs_run counts the epochs reported');
    assert.ok(m.epochs_run < epochs, `expected an early stop; val_loss by epoch: ${trace.join(', ')}`);
    assert.equal(m.epochs_run, stopAt, `stopped after ${m.epochs_run} epochs; val_loss by epoch: ${trace.join(', ')}`);
    assert.equal(m.kept_epoch, best + 1, 'kept_epoch is the 1-based best epoch');
    assert.equal(result.bestEpoch, best + 1);
    // The last epoch run is worse than the best, so keeping its weights would be visible.
    assert.ok(trace[trace.length - 1] > trace[best]);
    assert.ok(Math.abs(m.val_loss - trace[best]) <= 1e-6, `final val_loss ${m.val_loss} is not the best epoch's ${trace[best]}`);
    assert.equal(m.val_accuracy, t.epochs.get(run.loaded.plan.variants[0].id)![best].val_accuracy);
  });
}

// Pixels divided by 1e-36 are ~2.5e38: finite, but one step of sgd at learning rate 10 on such
// inputs (or the frozen convolutions themselves) overflow float32 and the network outputs NaN. A high
// learning rate alone cannot do it here: tfjs clips the probabilities in the cross-entropy, so a
// saturated softmax stops the gradients rather than blowing up.
function divergingSpec(limitPerClass: number): Record<string, unknown> {
  const spec = baseSpec();
  (spec.data as Record<string, unknown>).limit_per_class = limitPerClass;
  spec.sweep = { 'data.scale': [1e-36, 255] };
  spec.training = { ...(spec.training as object), optimizer: 'sgd', learning_rate: 10 };
  return spec;
}

test('a NaN loss fails the variant with a reason naming the loss, and the sweep goes on (cpu)', async () => {
  const dir = await tempDir();
  const ended: string[] = [];
  const run = await runSpec(dir, divergingSpec(10), 'cpu', [{ onVariantEnd: (v, r) => void ended.push(`${v.label}:${r.status}`) }]);
  const [diverged, sane] = run.ordered;
  assert.equal(diverged.status, 'failed', `diverged variant: ${inspect({ ...diverged, model: undefined })}`);
  assert.match(diverged.reason ?? '', /loss is NaN at epoch 1, batch \d+/);
  assert.equal(diverged.model, undefined, 'a failed variant saves no model');
  assert.equal(diverged.metrics, undefined);
  assert.equal(sane.status, 'completed', sane.reason);
  assert.ok(Number.isFinite(sane.metrics!.val_loss));
  assert.deepEqual(ended, ['data.scale=1e-36:failed', 'data.scale=255:completed']);
});

test('a variant whose loss is NaN fails on wasm too, and the sweep goes on', async () => {
  const dir = await tempDir();
  const t = traceEpochs();
  const run = await runSpec(dir, divergingSpec(60), 'wasm', [t.listener]);
  const [diverged, sane] = run.ordered;
  const epochs = t.epochs.get(run.loaded.plan.variants[0].id) ?? [];
  // Whatever the engine reports for the training batches, the variant's own metrics say its loss is NaN...
  const nanLoss = diverged.status === 'failed' || epochs.some((m) => Number.isNaN(m.loss) || Number.isNaN(m.val_loss));
  assert.ok(nanLoss, `precondition: the diverged variant should produce a NaN loss; epochs: ${inspect(epochs)}`);
  // ...so it must not count as a completed result.
  assert.equal(
    diverged.status,
    'failed',
    `a variant with a NaN loss was reported ${diverged.status}: metrics ${inspect(diverged.metrics)}, epoch metrics ${inspect(epochs)}`,
  );
  assert.match(diverged.reason ?? '', /loss is NaN/);
  assert.equal(sane.status, 'completed', sane.reason);
});
