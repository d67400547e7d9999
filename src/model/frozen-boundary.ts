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
 * Valid boundaries up to the first trainable layer, deepest first: the layer just before it, or
 * the nearest earlier layer whose output no later layer bypasses (a residual block that straddles
 * the first trainable layer moves the boundary back to the block's input). `beside`: model inputs
 * the trainable layers also read, cached alongside the boundary (a text encoder's attention mask).
 */
export function frozenBoundaries(model: TF.LayersModel, layers: readonly TF.layers.Layer[], frozen: readonly boolean[], beside: readonly TF.SymbolicTensor[] = []): FrozenBoundary[] {
  const firstTrainable = frozen.indexOf(false);
  const last = (firstTrainable === -1 ? layers.length : firstTrainable) - 1;
  const found: FrozenBoundary[] = [];
  for (let i = last; i >= 0; i--) {
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
