// tfjs-core derives the ReLU gradients from generic kernels (step, comparisons, multiply), and
// tfjs-node's `step` builds ones() and fill() tensors of the input's size on every call: 12 ms
// for one [64, 3, 3, 1280] activation, where TensorFlow's own ReluGrad takes under 1 ms. On the
// native backend these gradients run as TensorFlow's fused kernels (as Keras's do: at exactly 6,
// and at NaN, their gradient is 0 where tfjs's is 1 and NaN); elsewhere as tfjs derives them.
import type * as TF from '@tensorflow/tfjs';
import { float32Attr, nativeBackend } from './native-backend.ts';

type Tf = typeof TF;

let registered = false;

/** Register once per process, after the native backend has loaded. */
export function useNativeGradients(tf: Tf): void {
  if (registered) return;
  registered = true;
  /** TensorFlow's `op` on (dy, x) where the native backend runs float32 tensors; else `portable`. */
  const fused = (op: string, portable: (dy: TF.Tensor, x: TF.Tensor) => TF.Tensor) => (dy: TF.Tensor | TF.Tensor[], saved: TF.Tensor[]) => {
    const [x] = saved;
    const d = dy as TF.Tensor;
    return {
      x: () => {
        const backend = nativeBackend(tf);
        if (!backend || x.dtype !== 'float32' || d.dtype !== 'float32') return portable(d, x);
        return backend.executeSingleOutput(op, [float32Attr(backend)], [d, x]);
      },
    };
  };
  // The portable formulas are tfjs-core's own (gradients/Relu_grad.ts, Relu6_grad.ts).
  tf.registerGradient({ kernelName: 'Relu', inputsToSave: ['x'], gradFunc: fused('ReluGrad', (dy, x) => tf.mul(dy, tf.cast(tf.step(x), 'float32'))) });
  tf.registerGradient({
    kernelName: 'Relu6',
    inputsToSave: ['x'],
    gradFunc: fused('Relu6Grad', (dy, x) => tf.mul(dy, tf.cast(tf.mul(tf.lessEqual(x, 6), tf.step(x)), 'float32'))),
  });
}
