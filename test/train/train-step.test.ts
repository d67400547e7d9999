// The fit loop's lean step (train/train-step.ts) must compute what tfjs-layers' trainOnBatch
// computes: exactly, bit for bit, for any output layer but a softmax dense one, whose loss it takes
// from the logits (as Keras does), equal to rounding. Two copies of one model, one trained each way
// on the same batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine } from '../../src/engine/backends.ts';
import { createRng } from '../../src/data/rng.ts';
import { createOptimizer } from '../../src/train/optimizer.ts';
import { leanTrainStep, type StepTensors } from '../../src/train/train-step.ts';
import type { TrainingSpec } from '../../src/spec/types.ts';
import { sameBytes, testEngine } from './helpers.ts';

const CLASSES = 4;

/**
 * Pooling, a dense layer, batch norm (trainable: its moving statistics move in training mode),
 * dropout, an L2-regularised softmax: in the dense layer, or after it as an activation layer.
 */
function build(tf: typeof TF, softmaxLayer: boolean): TF.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.globalAveragePooling2d({ inputShape: [6, 6, 2], name: 'pool' }),
      tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: 'hidden' }),
      tf.layers.batchNormalization({ name: 'bn' }),
      tf.layers.dropout({ rate: 0.3, name: 'drop' }),
      tf.layers.dense({ units: CLASSES, activation: softmaxLayer ? 'linear' : 'softmax', kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }), kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), name: 'logits' }),
      ...(softmaxLayer ? [tf.layers.activation({ activation: 'softmax', name: 'softmax' })] : []),
    ],
  });
}

/** Bit for bit, or within this relative tolerance. */
function close(a: Float32Array | number[], b: Float32Array | number[], tolerance: number, what: string): void {
  if (!tolerance) return assert.ok(sameBytes(Float32Array.from(a), Float32Array.from(b)), `${what} differs`);
  const scale = Math.max(1e-3, ...Array.from(b, Math.abs));
  const worst = Math.max(0, ...Array.from(a, (v, i) => Math.abs(v - b[i])));
  assert.ok(worst <= tolerance * scale, `${what}: max |diff| ${worst} over ${tolerance} x ${scale}`);
}

for (const [optimizer, softmaxLayer] of [['adam', true], ['sgd', true], ['adam', false], ['sgd', false]] as const) {
  const how = softmaxLayer ? 'bit for bit (softmax as its own layer)' : 'to rounding (softmax dense: loss from the logits)';
  test(`the lean step equals trainOnBatch ${how} (${optimizer}, regulariser, dropout, batch norm in training mode)`, async () => {
    const { tf } = await selectEngine(testEngine('wasm'), []);
    const t = { optimizer, learning_rate: 0.05, momentum: 0.9, max_grad_norm: 1 } as TrainingSpec;
    const tolerance = softmaxLayer ? 0 : 1e-5;
    const models = [build(tf, softmaxLayer), build(tf, softmaxLayer)];
    const optimizers = models.map((m) => {
      const o = createOptimizer(tf, t);
      m.compile({ optimizer: o, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      return o;
    });
    const original = Math.random;
    try {
      const step = leanTrainStep(tf, models[1], CLASSES);
      assert.ok(step, 'a single-output classifier takes the lean step');
      const rng = createRng(3);
      for (let s = 0; s < 4; s++) {
        const rows = s === 3 ? 5 : 8; // a short last batch too
        const x = tf.tensor4d(Float32Array.from({ length: rows * 72 }, () => rng() * 2 - 1), [rows, 6, 6, 2]);
        const labels = Int32Array.from({ length: rows }, () => Math.floor(rng() * CLASSES));
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES);
        // Dropout draws its mask from Math.random: the same stream for both.
        Math.random = createRng(100 + s);
        const [loss, accuracy] = (await models[0].trainOnBatch(x, y)) as number[];
        Math.random = createRng(100 + s);
        const lean: StepTensors = step(x, labels);
        const [leanLoss, correct]: number[] = [lean.loss.dataSync()[0], lean.correct.dataSync()[0]];
        tf.dispose([x, y, lean.loss, lean.correct]);
        close([leanLoss], [loss], tolerance, `step ${s}: loss`);
        assert.equal(correct, Math.round(accuracy * rows), `step ${s}: correct rows`);
      }
      const [a, b] = models.map((m) => m.weights.map((w) => ({ name: w.originalName, values: w.read().dataSync() as Float32Array })));
      assert.deepEqual(b.map((w) => w.name), a.map((w) => w.name));
      assert.ok(a.some((w) => w.name === 'bn/moving_mean'), 'batch norm statistics are compared');
      for (const [i, w] of a.entries()) close(b[i].values, w.values, tolerance, w.name);
      const [sa, sb] = await Promise.all(optimizers.map((o) => o.getWeights()));
      // Each copy's variables are uniquified (hidden/kernel_1): the slots are named after them.
      const unsuffixed = (name: string) => name.replace(/_\d+\//, '/');
      assert.deepEqual(sb.map((w) => unsuffixed(w.name)), sa.map((w) => unsuffixed(w.name)), 'the same optimizer slots, in the same order');
      for (const [i, w] of sa.entries()) close(sb[i].tensor.dataSync() as Float32Array, w.tensor.dataSync() as Float32Array, tolerance, `optimizer ${w.name}`);
      tf.dispose([...sa, ...sb].map((w) => w.tensor));
    } finally {
      Math.random = original;
      optimizers.forEach((o) => o.dispose());
      models.forEach((m) => m.dispose());
    }
  });
}
