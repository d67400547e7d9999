import type * as TF from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import type { WeightSpec } from './source.ts';

/** A tensor shape as tfjs reports it: null for the batch dimension and other free ones. */
export type Shape = (number | null)[];

export interface WeightSummary {
  name: string;
  shape: number[];
  /** The dtype the weight has once loaded. */
  dtype: string;
  /** How its bytes are stored: the dtype, or the quantised dtype tfjs expands on load. */
  stored: string;
  quantization?: WeightSpec['quantization'];
  trainable: boolean;
}

export interface LayerSummary {
  /** Numbered as everywhere in tunespec: input layers left out, as Keras' `model.layers`. */
  index: number;
  name: string;
  className: string;
  /** null for a layer called on several inputs, whose output shape tfjs cannot name. */
  outputShape: Shape | Shape[] | null;
  params: number;
  trainable: boolean;
  weights: WeightSummary[];
}

export interface ModelSummary {
  layers: LayerSummary[];
  params: { total: number; trainable: number; nonTrainable: number };
  inputs: { name: string; shape: Shape; dtype: string }[];
  outputs: { name: string; shape: Shape }[];
  /** Weight tensors by storage dtype, e.g. { uint8: 12, float32: 2 }. */
  weightStorage: Record<string, number>;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * tfjs slices weight data by the manifest and only notices a short file when a tensor comes out
 * with too few values, in a message that names neither file nor weight; check the total first.
 */
export function checkWeightBytes(specs: readonly WeightSpec[], byteLength: number, where: string): void {
  let expected = 0;
  for (const s of specs) {
    const per = BYTES[s.quantization?.dtype ?? s.dtype];
    if (per === undefined) return; // strings: length is in the data, nothing to check up front
    expected += size(s.shape) * per;
  }
  if (expected !== byteLength) {
    throw new ModelError(`${where}: the weight files hold ${byteLength} bytes but the manifest describes ${expected}`, where);
  }
}

function outputShapeOf(layer: TF.layers.Layer): Shape | Shape[] | null {
  try {
    return layer.outputShape as Shape | Shape[];
  } catch {
    return null;
  }
}

/**
 * What a loaded (or built) model is, layer by layer. `manifest` says how each weight was stored;
 * weights it does not list (a new head) are as tfjs created them.
 */
export function summarizeModel(model: TF.LayersModel, manifest: readonly WeightSpec[]): ModelSummary {
  const stored = new Map(manifest.map((w) => [w.name, w]));
  const weightStorage: Record<string, number> = {};
  let total = 0;
  let trainable = 0;
  const layers = model.layers
    .filter((l) => l.getClassName() !== 'InputLayer')
    .map((layer, index): LayerSummary => {
      const trainableNames = new Set(layer.trainableWeights.map((w) => w.originalName));
      const weights = layer.weights.map((w): WeightSummary => {
        const spec = stored.get(w.originalName);
        const storedAs = spec?.quantization?.dtype ?? spec?.dtype ?? w.dtype;
        weightStorage[storedAs] = (weightStorage[storedAs] ?? 0) + 1;
        const shape = w.shape as number[];
        if (trainableNames.has(w.originalName)) trainable += size(shape);
        return { name: w.originalName, shape, dtype: w.dtype, stored: storedAs, ...(spec?.quantization && { quantization: spec.quantization }), trainable: trainableNames.has(w.originalName) };
      });
      const params = layer.countParams();
      total += params;
      return { index, name: layer.name, className: layer.getClassName(), outputShape: outputShapeOf(layer), params, trainable: layer.trainable, weights };
    });
  return {
    layers,
    params: { total, trainable, nonTrainable: total - trainable },
    inputs: model.inputs.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype })),
    outputs: model.outputs.map((t) => ({ name: t.name, shape: t.shape })),
    weightStorage,
  };
}

/** "12 quantised uint8 (min/scale), 2 float32": quantised kinds first, as they are the news. */
export function describeStorage(storage: Record<string, number>): string {
  const quantised = (d: string): boolean => d === 'uint8' || d === 'uint16' || d === 'float16';
  const entries = Object.entries(storage).sort(([a, m], [b, n]) => Number(quantised(b)) - Number(quantised(a)) || n - m);
  if (!entries.length) return 'none';
  return entries
    .map(([d, n]) => (!quantised(d) ? `${n} ${d}` : d === 'float16' ? `${n} quantised float16` : `${n} quantised ${d} (min/scale)`))
    .join(', ');
}

export function formatShape(shape: Shape | Shape[] | null): string {
  return shape === null ? '?' : JSON.stringify(shape);
}
