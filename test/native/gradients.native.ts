// Run by `npm run test:native`: on the native engine the ReLU gradients are TensorFlow's fused
// kernels (engine/native-gradients.ts); they must equal tfjs-core's own formulas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectEngine } from '../../src/engine/backends.ts';

test('relu and relu6 gradients on the native engine equal the portable ones', async () => {
  delete process.env.TUNESPEC_NO_NATIVE_BUILD;
  const { tf, name } = await selectEngine('native', []);
  assert.equal(name, 'native');
  const x = tf.tensor1d([-3, -0.5, 0.25, 1, 5.5, 5.99, 7, 100, Number.NaN]);
  const dy = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const cases = [
    { op: (t: import("@tensorflow/tfjs").Tensor) => tf.relu(t), portable: () => tf.mul(dy, tf.cast(tf.step(x), 'float32')) },
    { op: (t: import("@tensorflow/tfjs").Tensor) => tf.relu6(t), portable: () => tf.mul(dy, tf.cast(tf.mul(tf.lessEqual(x, 6), tf.step(x)), 'float32')) },
  ];
  for (const c of cases) {
    const got = Array.from(tf.grad(c.op)(x, dy).dataSync());
    const want = Array.from(c.portable().dataSync());
    assert.deepEqual(got.slice(0, 8), want.slice(0, 8));
    // At NaN TensorFlow's kernels give 0 where tfjs's step gives NaN (a NaN loss fails the variant
    // either way): proof that the fused kernel ran.
    assert.deepEqual([got[8], want[8]], [0, Number.NaN]);
  }
});
