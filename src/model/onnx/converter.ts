import type * as TF from '@tensorflow/tfjs';
import type { GraphBuilder } from './graph-builder.ts';
import { TunespecError } from '../../errors.ts';

/** What a converter sees of one layer call: ONNX names of its inputs, shapes as tfjs knows them. */
export interface LayerCall {
  b: GraphBuilder;
  layer: TF.layers.Layer;
  config: Record<string, any>;
  inputs: string[];
  inputShapes: (number | null)[][];
}

export class UnsupportedLayerError extends TunespecError {
  constructor(
    readonly layer: string,
    readonly className: string,
    why = 'has no ONNX converter',
  ) {
    super('ONNX_UNSUPPORTED_LAYER', `layer "${layer}" (${className}) ${why}`);
  }
}

export type Converter = (c: LayerCall) => string;

export function weight(layer: TF.layers.Layer, suffix: string): { dims: number[]; values: Float32Array } | undefined {
  const w = layer.weights.find((v) => v.originalName.split('/').pop() === suffix);
  return w && { dims: w.shape as number[], values: w.read().dataSync() as Float32Array };
}

export function required(layer: TF.layers.Layer, suffix: string): { dims: number[]; values: Float32Array } {
  const w = weight(layer, suffix);
  if (!w) throw new UnsupportedLayerError(layer.name, layer.getClassName(), `has no "${suffix}" weight`);
  return w;
}

