import type { HeadLayerSpec } from '../spec/types.ts';
import { layersUpTo, type LayerInfo } from './topology.ts';
import { POOLING_CLASS } from './layers/masked-pooling.ts';

/** One layer of the model a spec builds: the kept base layers, then the new head. */
export interface PlannedLayer {
  name: string;
  className: string;
  origin: 'base' | 'head';
}

const HEAD_CLASS: Record<HeadLayerSpec['type'], string> = {
  dense: 'Dense',
  dropout: 'Dropout',
  batch_norm: 'BatchNormalization',
  activation: 'Activation',
  flatten: 'Flatten',
  global_average_pooling: 'GlobalAveragePooling2D',
  pooling: POOLING_CLASS,
};

/** Head layers get stable names (tfjs would number them per process) so freeze rules and saved models agree. */
export function headLayerName(layer: HeadLayerSpec, i: number): string {
  return layer.name ?? `head_${i}_${layer.type}`;
}

export function planLayers(base: LayerInfo[], cutIndex: number, head: readonly HeadLayerSpec[]): PlannedLayer[] {
  return [
    ...layersUpTo(base, cutIndex).map((l) => ({ name: l.name, className: l.className, origin: 'base' as const })),
    ...head.map((h, i) => ({ name: headLayerName(h, i), className: HEAD_CLASS[h.type], origin: 'head' as const })),
  ];
}
