// Early stopping keeps the best epoch's weights, and a loss or frozen output that stops being a
// number fails the variant, not the sweep.
import { test } from 'node:test';
import { inspect } from 'node:util';
import assert from 'node:assert/strict';
import type { EpochMetrics, SweepListener } from '../../src/train/events.ts';
import { loadSpec } from '../../src/app/load-spec.ts';
import { createRng, shuffleInPlace } from '../../src/data/rng.ts';
import { selectEngine } from '../../src/engine/backends.ts';
import { buildModel, disposeVariantModel, loadBase } from '../../src/model/build.ts';
import { tfjsFiles } from '../../src/model/source.ts';
import { VariantFailure } from '../../src/train/failure.ts';
import { fitVariant } from '../../src/train/fit.ts';
import { baseSpec, fakeInfo, runSpec, tempDir, trainingData, writeSpec } from './helpers.ts';

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

// Pixels divided by 1e-36 are ~2.5e38: finite, but the frozen convolutions overflow float32 on
// them. The frozen prefix runs apart from the trained layers (on onnxruntime, or from the feature
// cache) and its output is checked before any step, so the variant fails naming the layer.
function overflowingSpec(): Record<string, unknown> {
  const spec = baseSpec();
  (spec.data as Record<string, unknown>).limit_per_class = 10;
  spec.sweep = { 'data.scale': [1e-36, 255] };
  return spec;
}

for (const engine of ['cpu', 'wasm'] as const) {
  test(`frozen layers that output NaN fail the variant naming the layer, before any step, and the sweep goes on (${engine})`, async () => {
    const dir = await tempDir();
    const t = traceEpochs();
    const ended: string[] = [];
    const run = await runSpec(dir, overflowingSpec(), engine, [t.listener, { onVariantEnd: (v, r) => void ended.push(`${v.label}:${r.status}`) }]);
    const [diverged, sane] = run.ordered;
    assert.equal(diverged.status, 'failed', `diverged variant: ${inspect({ ...diverged, model: undefined })}`);
    assert.match(diverged.reason ?? '', /the frozen layers output \d+ NaN or infinite values at flatten/);
    assert.equal(diverged.model, undefined, 'a failed variant saves no model');
    assert.equal(t.epochs.get(run.loaded.plan.variants[0].id), undefined, 'no epoch ended');
    assert.equal(sane.status, 'completed', sane.reason);
    assert.deepEqual(ended, ['data.scale=1e-36:failed', 'data.scale=255:completed']);
  });
}

// A loss that stops being a number mid-epoch: the lean step reads losses back only now and then,
// and must still name the batch where the loss first went NaN. One training row is NaN (the data,
// not the engine, is what is made to fail); the whole model trains in tfjs (fit on the raw rows).
test('a NaN training loss fails the variant naming the epoch and the batch where it appeared', async () => {
  const dir = await tempDir();
  const loaded = await loadSpec(await writeSpec(dir, baseSpec()));
  const variant = loaded.plan.variants[0].spec;
  const engine = await selectEngine('cpu', []);
  const data = await trainingData(loaded);
  const poisoned = 37;
  const rows = data.train.x;
  const train = {
    ...data.train,
    x: { ...rows, gather: (idx: ArrayLike<number>) => {
      const x = rows.gather(idx);
      const size = x.length / idx.length;
      Array.from(idx).forEach((r, i) => r === poisoned && x.fill(Number.NaN, i * size, (i + 1) * size));
      return x;
    } },
  };
  // Where the poisoned row falls in the first epoch's shuffle (fit shuffles 0..n-1 with the training seed).
  const order = shuffleInPlace(Int32Array.from({ length: train.y.length }, (_, i) => i), createRng(variant.training.seed));
  const batch = Math.floor(order.indexOf(poisoned) / variant.training.batch_size) + 1;
  assert.ok(batch > 1, 'precondition: the NaN comes after the first read-back');
  const base = await loadBase(engine.tf, tfjsFiles(loaded.model.base));
  const built = buildModel(engine.tf, base, loaded.model.layers[loaded.model.cutIndex].name, variant);
  try {
    await assert.rejects(
      fitVariant(engine.tf, built.model, variant, { ...data, train }, fakeInfo(loaded, built), [], new AbortController().signal),
      (err: Error) => err instanceof VariantFailure && err.message === `loss is NaN at epoch 1, batch ${batch}`,
    );
  } finally {
    disposeVariantModel(built, base);
  }
});
