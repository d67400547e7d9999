// Run by `npm run test:native`: batch norm in training through TensorFlow's fused kernels
// (engine/native-batch-norm.ts) gives tfjs's values: output, gradients and batch statistics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectEngine } from '../../src/engine/backends.ts';
import { nativeBatchNormTraining } from '../../src/engine/native-batch-norm.ts';

test('fused batch norm in training matches tfjs moments + batchNorm and their gradients', async () => {
  delete process.env.TUNESPEC_NO_NATIVE_BUILD;
  const { tf } = await selectEngine('native', []);
  const step = nativeBatchNormTraining(tf);
  assert.ok(step, 'the native engine has the fused step');
  const x = tf.randomNormal([16, 3, 3, 24], 1, 2, 'float32', 1);
  const gamma = tf.randomNormal([24], 1, 0.5, 'float32', 2);
  const beta = tf.randomNormal([24], 0, 1, 'float32', 3);
  const dy = tf.randomNormal([16, 3, 3, 24], 0, 1, 'float32', 4);
  const stats: number[][] = [];
  const fused = (a: typeof x, g: typeof x, b: typeof x) => step(a, g, b, 1e-3, (m, v) => void stats.push(Array.from(m.dataSync()), Array.from(v.dataSync())));
  const portable = (a: typeof x, g: typeof x, b: typeof x) => {
    const m = tf.moments(a, [0, 1, 2]);
    return tf.batchNorm(a, m.mean, m.variance, b, g, 1e-3);
  };
  const close = (a: typeof x, b: typeof x, what: string) => {
    const d = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    assert.ok(d < 1e-4, `${what}: max |diff| ${d}`);
  };
  close(fused(x, gamma, beta), portable(x, gamma, beta), 'output');
  const m = tf.moments(x, [0, 1, 2]);
  close(tf.tensor(stats[0]), m.mean, 'batch mean');
  close(tf.tensor(stats[1]), m.variance, 'batch variance (biased, as tfjs-layers averages it)');
  const got = tf.grads(fused)([x, gamma, beta], dy);
  const want = tf.grads(portable)([x, gamma, beta], dy);
  ['x', 'gamma', 'beta'].forEach((n, i) => close(got[i], want[i], `gradient of ${n}`));
});
