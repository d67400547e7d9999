import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import { resolveFreezeRanges } from '../spec/layer-refs.ts';
import type { Experiment, HeadLayerSpec } from '../spec/types.ts';
import { ModelError } from '../errors.ts';
import { headLayerName } from './layout.ts';
import { maskedPooling } from './layers/masked-pooling.ts';
import { nativeBatchNormTraining } from '../engine/native-batch-norm.ts';
import type { ModelFiles } from './source.ts';

export interface BuiltModel {
  model: TF.LayersModel;
  /** The built model's layers, input layers left out: the numbering users see. */
  layers: TF.layers.Layer[];
  frozen: boolean[];
}

/** A fresh copy of the base for each variant: training must never see another variant's weights. */
export async function loadBase(tf: Tf, files: ModelFiles): Promise<TF.LayersModel> {
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: files.json.modelTopology, weightSpecs: files.weightSpecs as TF.io.WeightsManifestEntry[], weightData: files.weightData }),
    );
  } catch (err) {
    throw new ModelError(`cannot load the base model: ${(err as Error).message}`);
  }
}

function headLayer(tf: Tf, spec: HeadLayerSpec, i: number, seed: number): TF.layers.Layer {
  const name = headLayerName(spec, i);
  switch (spec.type) {
    case 'dense':
      return tf.layers.dense({
        units: spec.units,
        activation: spec.activation,
        name,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }),
        kernelRegularizer: spec.l2 > 0 ? tf.regularizers.l2({ l2: spec.l2 }) : undefined,
      });
    case 'dropout':
      return tf.layers.dropout({ rate: spec.rate, name });
    case 'batch_norm':
      return tf.layers.batchNormalization({ momentum: spec.momentum, epsilon: spec.epsilon, name });
    case 'activation':
      return tf.layers.activation({ activation: spec.activation, name });
    case 'flatten':
      return tf.layers.flatten({ name });
    case 'global_average_pooling':
      return tf.layers.globalAveragePooling2d({ name });
    case 'pooling':
      return maskedPooling(tf, { mode: spec.mode, name });
  }
}

/**
 * Frozen layers run in inference mode, as Keras's transfer-learning guide calls the base with
 * `training=False`: tfjs would otherwise keep updating a frozen batch norm's moving mean and
 * variance, and keep dropping units in a frozen dropout. It also makes frozen layers compute
 * what their cached features hold.
 */
function inferenceOnly(layer: TF.layers.Layer): void {
  const call = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
}

/**
 * tfjs's ReLU layer with max_value 6 (MobileNet's activations) runs relu, then clipByValue, whose
 * gradient takes five full-size kernels; relu6 is one kernel each way (and a fused one on the
 * native engine, engine/native-gradients.ts), with the same output.
 */
function fuseRelu6(tf: Tf, layers: readonly TF.layers.Layer[]): void {
  for (const layer of layers) {
    if (layer.getClassName() !== 'ReLU' || (layer as unknown as { maxValue?: number }).maxValue !== 6) continue;
    layer.call = (inputs) => tf.relu6(Array.isArray(inputs) ? inputs[0] : inputs);
  }
}

interface BatchNormInternals {
  axis: number | number[];
  epsilon: number;
  momentum: number;
  center: boolean;
  scale: boolean;
  gamma: TF.LayerVariable;
  beta: TF.LayerVariable;
  movingMean: TF.LayerVariable;
  movingVariance: TF.LayerVariable;
}

/**
 * Trainable batch norm on the native engine trains through TensorFlow's fused kernels
 * (engine/native-batch-norm.ts), updating the moving statistics as tfjs-layers does; anything
 * else (inference, other engines, other layouts) runs tfjs-layers' own call.
 */
function fuseBatchNorm(tf: Tf, layers: readonly TF.layers.Layer[]): void {
  for (const layer of layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const bn = layer as unknown as BatchNormInternals;
    const call = layer.call.bind(layer);
    layer.call = (inputs, kwargs) => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const step = kwargs.training ? nativeBatchNormTraining(tf) : undefined;
      const axis = Array.isArray(bn.axis) ? (bn.axis.length === 1 ? bn.axis[0] : -99) : bn.axis;
      if (!step || x.rank !== 4 || (axis !== -1 && axis !== 3) || !bn.center || !bn.scale || x.dtype !== 'float32') return call(inputs, kwargs);
      return step(x, bn.gamma.read(), bn.beta.read(), bn.epsilon, (mean, variance) =>
        tf.tidy(() => {
          for (const [moving, value] of [[bn.movingMean, mean], [bn.movingVariance, variance]] as const) {
            const before = moving.read();
            moving.write(tf.sub(before, tf.mul(tf.sub(before, value), 1 - bn.momentum)));
          }
        }),
      );
    };
  }
}

/**
 * Base up to the cut, the new head on top, frozen ranges applied. The caller compiles. On failure
 * the head's weights are freed here and the base's by the caller, so a bad variant leaks nothing.
 */
function applyHead(tf: Tf, input: TF.SymbolicTensor, on: string, spec: Experiment, attentionMask?: TF.SymbolicTensor): TF.SymbolicTensor {
  const head: TF.layers.Layer[] = [];
  const fail = (message: string): never => {
    for (const layer of head) if (layer.built && layer.countParams() > 0) layer.dispose();
    throw new ModelError(message);
  };
  let x = input;
  try {
    spec.head.forEach((h, i) => {
      if (h.type === 'pooling' && !attentionMask) fail(`cannot put the head on ${on}: pooling needs a text encoder's hidden states and attention mask`);
      head.push(headLayer(tf, h, i, spec.training.seed));
      x = head[i].apply(h.type === 'pooling' ? [x, attentionMask!] : x) as TF.SymbolicTensor;
    });
  } catch (err) {
    fail(`cannot put the head on ${on}: ${(err as Error).message}`);
  }
  if (x.shape.length !== 2) {
    fail(`the head outputs shape [${x.shape.join(', ')}]; put a flatten or global_average_pooling layer before its dense layers`);
  }
  return x;
}

/** `trainable` from the freeze ranges, numbered over `numbering` (the built model's layers as users count them). */
function applyFreeze(layers: TF.layers.Layer[], numbering: readonly { name: string }[], spec: Experiment): boolean[] {
  const { frozen } = resolveFreezeRanges(numbering, spec.freeze);
  const own = frozen.slice(numbering.length - layers.length);
  layers.forEach((layer, i) => {
    layer.trainable = !own[i];
    if (own[i]) inferenceOnly(layer);
  });
  return own;
}

/** `attentionMask`: a text encoder's mask input, which a pooling head layer reads beside the hidden states. */
export function buildModel(tf: Tf, base: TF.LayersModel, cutLayerName: string, spec: Experiment, attentionMask?: TF.SymbolicTensor): BuiltModel {
  const x = applyHead(tf, base.getLayer(cutLayerName).output as TF.SymbolicTensor, `layer "${cutLayerName}"`, spec, attentionMask);
  const model = tf.model({ inputs: base.inputs, outputs: x, name: 'tunespec_model' });
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  fuseRelu6(tf, layers);
  fuseBatchNorm(tf, layers);
  return { model, layers, frozen: applyFreeze(layers, layers, spec) };
}

/**
 * The head alone, on features of `featureShape`: what trains on an ONNX base's output. Freeze
 * ranges count the base's layers first, as `baseLayers` names them.
 */
export function buildHeadModel(tf: Tf, featureShape: number[], baseLayers: readonly { name: string }[], spec: Experiment): BuiltModel {
  const input = tf.input({ shape: featureShape, name: 'features' });
  const x = applyHead(tf, input, `the ONNX base's output [${featureShape.join(', ')}]`, spec);
  const model = tf.model({ inputs: input, outputs: x, name: 'tunespec_head' });
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  return { model, layers, frozen: applyFreeze(layers, [...baseLayers, ...layers], spec) };
}

/**
 * Free a variant's weights. The built model shares its layers with the base, so disposing both
 * containers would dispose the kept layers twice; the base's dropped layers are freed one by one.
 */
export function disposeVariantModel(built: BuiltModel, base: TF.LayersModel): void {
  const kept = new Set(built.model.layers);
  built.model.dispose();
  for (const layer of base.layers) if (!kept.has(layer) && layer.built) layer.dispose();
}
