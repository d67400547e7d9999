import type * as TF from '@tensorflow/tfjs';
import { stepsBetween } from './graph.ts';

/** A tensor inside the model such that everything before it is frozen and nothing after it reaches back past it. */
export interface FrozenBoundary {
  /** Index, in the built model's layer numbering, of the layer whose output is the boundary. */
  index: number;
  layer: string;
  tensor: TF.SymbolicTensor;
}

function outputOf(layer: TF.layers.Layer): TF.SymbolicTensor {
  return layer.getOutputAt(0) as TF.SymbolicTensor;
}

/** Whether every path from the model's input to its output passes through `t` (or the `beside` tensors). */
function cutsGraph(model: TF.LayersModel, t: TF.SymbolicTensor, beside: readonly TF.SymbolicTensor[]): boolean {
  try {
    stepsBetween([t, ...beside], model.outputs);
    return true;
  } catch {
    return false;
  }
}

/**
 * Layers with nothing to train that compute the same in training as in inference: the frozen
 * prefix can run them too, so the cache holds their (often much smaller) output. Dropout and
 * noise layers are left out (random in training), batch norm too (it has weights).
 */
const PASS_THROUGH = new Set([
  'GlobalAveragePooling1D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling1D',
  'GlobalMaxPooling2D',
  'AveragePooling1D',
  'AveragePooling2D',
  'MaxPooling1D',
  'MaxPooling2D',
  'Flatten',
  'Reshape',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'Softmax',
]);

/** Whether `layer` has no weights and the same output in training as in inference. */
export function passesThrough(layer: TF.layers.Layer): boolean {
  return PASS_THROUGH.has(layer.getClassName()) && layer.weights.length === 0;
}

/**
 * Valid boundaries up to the first layer with something to train, deepest first: the layer just
 * before it, or the nearest earlier layer whose output no later layer bypasses (a residual block
 * that straddles the first trainable layer moves the boundary back to the block's input).
 * Parameter-free layers right after the frozen ones (a head's global pooling) count as frozen
 * here when `throughParameterFree`: a trainable flag on them changes nothing, and pooling 3×3×1280
 * features once beats pooling them every step. The last layer always stays after the boundary.
 * `beside`: model inputs the trainable layers also read, cached alongside the boundary (a text
 * encoder's attention mask).
 */
export function frozenBoundaries(
  model: TF.LayersModel,
  layers: readonly TF.layers.Layer[],
  frozen: readonly boolean[],
  { beside = [], throughParameterFree = false }: { beside?: readonly TF.SymbolicTensor[]; throughParameterFree?: boolean } = {},
): FrozenBoundary[] {
  const firstTrainable = frozen.indexOf(false);
  let end = firstTrainable === -1 ? layers.length : firstTrainable;
  if (throughParameterFree && firstTrainable !== -1) while (end < layers.length - 1 && passesThrough(layers[end])) end++;
  const found: FrozenBoundary[] = [];
  for (let i = end - 1; i >= 0; i--) {
    const tensor = outputOf(layers[i]);
    if (cutsGraph(model, tensor, beside)) found.push({ index: i, layer: layers[i].name, tensor });
  }
  return found;
}

/** Why a variant cannot train from cached features, or undefined when it can. */
export function cacheBlocker(frozen: readonly boolean[], augmented: boolean): string | undefined {
  if (augmented) return 'input augmentation changes every epoch';
  if (!frozen[0]) return 'the first layer is trainable, so nothing before it is frozen';
  if (!frozen.includes(false)) return 'every layer is frozen';
  return undefined;
}
