import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';

/** A step's results, still on the engine: the caller decides when to read them back. */
export interface StepTensors {
  /** The mean loss of the batch, regularisation penalties included (what trainOnBatch reports). */
  loss: TF.Scalar;
  /** How many of the batch's rows the model got right before the update, as float32. */
  correct: TF.Scalar;
}

/** One optimizer step on a batch of model inputs and its class labels. */
export type TrainStep = (x: TF.Tensor | TF.Tensor[], labels: Int32Array) => StepTensors | Promise<StepTensors>;

/** What tfjs-layers' compile leaves on a model, and trainOnBatch reads; not in its public typings. */
interface Compiled {
  lossFunctions?: ((yTrue: TF.Tensor, yPred: TF.Tensor) => TF.Tensor)[];
  collectedTrainableWeights?: { read(): TF.Variable }[];
  calculateLosses(): TF.Scalar[];
}

/**
 * The step tfjs-layers' `trainOnBatch` takes on a compiled single-output model, without what it
 * costs besides: input standardisation, the metrics' ops, and two synchronous read-backs (loss,
 * accuracy) every step, which on an accelerator wait for the whole step. The arithmetic is
 * trainOnBatch's (tfjs-layers 4.22 `makeTrainFunction`): the forward pass with `training: true`
 * (frozen layers keep running in inference mode: model/build.ts wraps their `call`), the mean
 * loss, then each layer's regularisation penalty added in `calculateLosses` order, minimised by the
 * model's optimizer over `collectedTrainableWeights` in the same order (so optimizer slots are
 * created and named alike). One difference: a softmax dense output layer's loss is taken from its
 * logits, as Keras takes it, which equals tfjs's loss on the probabilities but for rounding and
 * tfjs's clipping of probabilities under 1e-7, with ~25 fewer kernels a step (bench/train-step.ts;
 * test/train/train-step.test.ts checks the equality).
 * The correct count replaces the accuracy metric.
 *
 * A model this does not cover (more than one output or loss; every classification head has one)
 * gets trainOnBatch itself, whose loss and accuracy come back every step.
 */
export function trainStep(tf: Tf, model: TF.LayersModel, classes: number): TrainStep {
  return leanTrainStep(tf, model, classes) ?? ((x, labels) => layersStep(tf, model, x, labels, classes));
}

/** tfjs-layers' own step, its results as tensors again. */
async function layersStep(tf: Tf, model: TF.LayersModel, x: TF.Tensor | TF.Tensor[], labels: Int32Array, classes: number): Promise<StepTensors> {
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes));
  try {
    const [loss, accuracy] = (await model.trainOnBatch(x, y)) as number[];
    return { loss: tf.scalar(loss), correct: tf.scalar(accuracy * labels.length) };
  } finally {
    y.dispose();
  }
}

/** The lean step, or undefined for a model it does not cover. */
export function leanTrainStep(tf: Tf, model: TF.LayersModel, classes: number): ((x: TF.Tensor | TF.Tensor[], labels: Int32Array) => StepTensors) | undefined {
  // A Sequential holds the functional model it compiles and trains as `model`.
  const inner = ((model as unknown as { model?: TF.LayersModel }).model ?? model) as TF.LayersModel;
  const m = inner as unknown as Compiled;
  const optimizer = inner.optimizer;
  if (inner.outputs.length !== 1 || m.lossFunctions?.length !== 1 || !m.collectedTrainableWeights || !optimizer) return undefined;
  const lossFunction = m.lossFunctions[0];
  const trainable = m.collectedTrainableWeights;
  const head = softmaxDense(tf, inner);
  return (x, labels) =>
    tf.tidy(() => {
      const truth = tf.tensor1d(labels, 'int32');
      const y = tf.oneHot(truth, classes);
      let correct: TF.Scalar | undefined;
      const loss = optimizer.minimize(
        () => {
          // With a softmax dense layer last, the loss is taken from its logits, as Keras does
          // (its cross-entropy on a softmax output uses the logits behind it): one fused matmul
          // and log-softmax in place of softmax, normalising, clipping and their gradients.
          const out = head ? head.logits(x) : (inner.apply(x, { training: true }) as TF.Tensor);
          // Kept: the gradient tape's scope would dispose it; off the loss's path, it costs no gradient.
          correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(out, -1), truth), 'float32')) as TF.Scalar);
          let total = (head ? tf.losses.softmaxCrossEntropy(y, out) : tf.mean(lossFunction(y, out))) as TF.Scalar;
          for (const penalty of m.calculateLosses()) total = tf.add(total, penalty) as TF.Scalar;
          return total;
        },
        true,
        trainable.map((w) => w.read()),
      ) as TF.Scalar;
      return { loss, correct: correct! };
    });
}

interface DenseInternals {
  kernel?: { read(): TF.Variable };
  bias?: { read(): TF.Variable } | null;
  inboundNodes: { inputTensors: TF.SymbolicTensor[] }[];
}

/**
 * The model's last layer when it is a dense softmax over a rank-2 input: what runs before it (in
 * training mode) and its logits. Undefined for any other output layer, which keeps the model's own
 * loss on its output.
 */
function softmaxDense(tf: Tf, inner: TF.LayersModel): { logits(x: TF.Tensor | TF.Tensor[]): TF.Tensor } | undefined {
  const output = inner.outputs[0];
  const last = output.sourceLayer;
  const dense = last as unknown as DenseInternals;
  if (last.getClassName() !== 'Dense' || last.getConfig().activation !== 'softmax' || !dense.kernel) return undefined;
  // The layer may be called in more than one model (the whole one and the part after the cached
  // features): its input in this one is the one of the call that made this model's output.
  const inputs = dense.inboundNodes[output.nodeIndex]?.inputTensors ?? [];
  if (inputs.length !== 1 || inputs[0].shape.length !== 2) return undefined;
  const input = inputs[0];
  const fed = inner.inputs.indexOf(input);
  // A container over existing layers (it calls none, so nothing is built or disposed): the layers before the last.
  const body = fed >= 0 ? undefined : tf.model({ inputs: inner.inputs, outputs: input });
  return {
    logits: (x) => {
      const h = body ? (body.apply(x, { training: true }) as TF.Tensor) : Array.isArray(x) ? x[fed] : x;
      return tf.fused.matMul({ a: h, b: dense.kernel!.read(), bias: dense.bias?.read() });
    },
  };
}
