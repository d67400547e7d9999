// tfjs-node's backend as far as tunespec runs TensorFlow kernels on it directly (the fused batch
// norm, the ReLU gradients): what it exposes for that, which its public typings leave out.
import type * as TF from '@tensorflow/tfjs';

type Tf = typeof TF;

/** A kernel attribute, typed by one of the binding's TF_ATTR_* codes. */
export interface NativeAttr {
  name: string;
  type: number;
  value: number | string | boolean;
}

export interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number; TF_ATTR_FLOAT: number; TF_ATTR_STRING: number; TF_ATTR_BOOL: number };
  executeSingleOutput(name: string, attrs: NativeAttr[], inputs: TF.Tensor[]): TF.Tensor;
  executeMultipleOutputs(name: string, attrs: NativeAttr[], inputs: TF.Tensor[], outputs: number): TF.Tensor[];
}

/** The native backend when it is the current one; undefined on any other. */
export function nativeBackend(tf: Tf): NativeBackend | undefined {
  return tf.getBackend() === 'tensorflow' ? (tf.backend() as unknown as NativeBackend) : undefined;
}

/** The `T: float32` attribute of a kernel on float32 tensors. */
export function float32Attr(backend: NativeBackend): NativeAttr {
  return { name: 'T', type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT };
}
