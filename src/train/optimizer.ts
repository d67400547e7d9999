import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import type { TrainingSpec } from '../spec/types.ts';

// The optimizers a spec can name, and the two update rules tfjs lacks: gradient clipping by global
// norm (any optimizer) and AdamW's decoupled weight decay. Both follow torch.optim.AdamW and
// torch.nn.utils.clip_grad_norm_, which Hugging Face's Trainer uses: clip the gradients, shrink the
// decayed weights by (1 - lr * weight_decay), then take the Adam step.

/** torch.optim.AdamW's defaults; tfjs's own Adam keeps its epsilon (1e-7) so existing runs are unchanged. */
const ADAMW = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
/** As torch's clip_grad_norm_: keeps the scale finite when every gradient is zero. */
const NORM_EPSILON = 1e-6;

const BASE = {
  adam: (tf: Tf, t: TrainingSpec) => tf.train.adam(t.learning_rate),
  adamw: (tf: Tf, t: TrainingSpec) => tf.train.adam(t.learning_rate, ADAMW.beta1, ADAMW.beta2, ADAMW.epsilon),
  sgd: (tf: Tf, t: TrainingSpec) => (t.momentum > 0 ? tf.train.momentum(t.learning_rate, t.momentum) : tf.train.sgd(t.learning_rate)),
  rmsprop: (tf: Tf, t: TrainingSpec) => tf.train.rmsprop(t.learning_rate, 0.9, t.momentum),
} as const;

/**
 * Which weights decay: matrices (kernels, embeddings), never vectors (biases, layer- and
 * batch-norm scales and offsets). A rule on shape, not on names, so custom layers whatever their
 * weight names get Hugging Face's "no decay for bias and LayerNorm.weight" without listing them.
 */
export function decays(shape: readonly number[]): boolean {
  return shape.length >= 2;
}

type Gradients = Parameters<TF.Optimizer['applyGradients']>[0];

type NamedTensor = { name: string; tensor: TF.Tensor };

function entries(grads: Gradients): NamedTensor[] {
  return Array.isArray(grads) ? grads : Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
}

/** Scale every gradient by min(1, maxNorm / (global norm + 1e-6)); returns new tensors. */
export function clipByGlobalNorm(tf: Tf, grads: NamedTensor[], maxNorm: number): NamedTensor[] {
  const tensors = tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g.tensor)))));
    const scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxNorm), tf.add(norm, NORM_EPSILON)));
    return grads.map((g) => tf.mul(g.tensor, scale));
  });
  return grads.map((g, i) => ({ name: g.name, tensor: tensors[i]! }));
}

/**
 * The optimizer of a training section. Clipping and decay wrap `applyGradients`, the one method
 * tfjs-layers' trainOnBatch goes through, so every optimizer keeps its own state and slot names.
 */
export function createOptimizer(tf: Tf, t: TrainingSpec): TF.Optimizer {
  const optimizer = BASE[t.optimizer](tf, t);
  const maxNorm = t.max_grad_norm;
  const decay = t.optimizer === 'adamw' ? (t.weight_decay ?? 0) : 0;
  if (maxNorm === undefined && decay === 0) return optimizer;
  const step = optimizer.applyGradients.bind(optimizer) as (grads: Gradients) => void;
  optimizer.applyGradients = (grads: Gradients) => {
    const list = entries(grads);
    if (decay > 0) {
      // Read the rate at each step: the schedule changes it between batches.
      const keep = 1 - (optimizer as unknown as { learningRate: number }).learningRate * decay;
      tf.tidy(() => {
        for (const { name } of list) {
          const variable = tf.engine().registeredVariables[name];
          if (variable && decays(variable.shape)) variable.assign(tf.mul(variable, keep));
        }
      });
    }
    if (maxNorm === undefined) return step(grads);
    const clipped = clipByGlobalNorm(tf, list, maxNorm);
    try {
      step(clipped);
    } finally {
      tf.dispose(clipped.map((g) => g.tensor));
    }
  };
  return optimizer;
}

/** Sets the rate an optimizer steps with. SGD caches its rate as a tensor, so it needs its setter; the others read the field each step. */
export function setLearningRate(optimizer: TF.Optimizer, lr: number): void {
  const o = optimizer as TF.Optimizer & { setLearningRate?: (lr: number) => void; learningRate: number };
  if (o.setLearningRate) o.setLearningRate(lr);
  else o.learningRate = lr;
}
