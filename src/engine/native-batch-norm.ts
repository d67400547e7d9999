// Batch normalisation in training, as TensorFlow's FusedBatchNorm and FusedBatchNormGrad kernels.
// tfjs-layers computes it from moments, tiles and the generic batchNorm op, and tfjs-core
// differentiates that composite: about 90 kernels a layer per step where Keras runs two. Same
// values to float rounding (test/native/batch-norm.native.ts).
import type * as TF from '@tensorflow/tfjs';
import { float32Attr, nativeBackend, type NativeAttr } from './native-backend.ts';

type Tf = typeof TF;

/**
 * Normalise NHWC `x` over its batch and spatial axes, then scale and shift by `gamma` and `beta`;
 * `onStats` gets the batch mean and (biased) variance, for the moving averages.
 */
export type BatchNormTraining = (x: TF.Tensor, gamma: TF.Tensor, beta: TF.Tensor, epsilon: number, onStats: (mean: TF.Tensor, variance: TF.Tensor) => void) => TF.Tensor;

/** The fused training step on the native engine; undefined on any other backend. */
export function nativeBatchNormTraining(tf: Tf): BatchNormTraining | undefined {
  const backend = nativeBackend(tf);
  if (!backend) return undefined;
  const b = backend.binding;
  return (x, gamma, beta, epsilon, onStats) => {
    const attrs: NativeAttr[] = [
      float32Attr(backend),
      { name: 'epsilon', type: b.TF_ATTR_FLOAT, value: epsilon },
      { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
      { name: 'is_training', type: b.TF_ATTR_BOOL, value: true },
    ];
    const op = tf.customGrad((...args: (TF.Tensor | ((saved: TF.Tensor[]) => void))[]) => {
      const [xi, g, o] = args as TF.Tensor[];
      const save = args[3] as (saved: TF.Tensor[]) => void;
      const empty = tf.tensor1d([]);
      // Outputs: y, the batch mean and the Bessel-corrected variance, then the mean and the biased
      // variance the gradient kernel takes.
      const [y, batchMean, batchVariance, mean, variance] = backend.executeMultipleOutputs('FusedBatchNorm', attrs, [xi, g, o, empty, empty], 5);
      tf.dispose([empty, batchMean, batchVariance]);
      onStats(mean, variance);
      save([xi, g, mean, variance]);
      return {
        value: y,
        gradFunc: (dy: TF.Tensor | TF.Tensor[], saved: TF.Tensor[]) => {
          const [dx, dGamma, dBeta, ...reserved] = backend.executeMultipleOutputs('FusedBatchNormGrad', attrs, [dy as TF.Tensor, ...saved], 5);
          tf.dispose(reserved);
          return [dx, dGamma, dBeta];
        },
      };
    });
    return op(x, gamma, beta);
  };
}
