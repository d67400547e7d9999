import { ModelError } from '../errors.ts';
import type { ModelJson, WeightSpec } from './source.ts';

/** A layer as model.json describes it; read without loading tfjs, so `validate` stays light. */
export interface LayerInfo {
  name: string;
  className: string;
  /** Names of the layers feeding this one. */
  inbound: string[];
  params: number;
  /** The trainable flag model.json stores (false for layers saved frozen); absent where the format stores none (ONNX). */
  trainable?: boolean;
}

function paramCount(weights: WeightSpec[], layer: string): number {
  return weights
    .filter((w) => w.name.startsWith(`${layer}/`))
    .reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * The base model's layers in tfjs order, input layers left out: they hold no weights, and users
 * number layers the way `model.layers` of a Keras Sequential does.
 */
export function listBaseLayers(json: ModelJson): LayerInfo[] {
  const topo = json.modelTopology?.model_config ?? json.modelTopology;
  const config = topo?.config;
  const raw: any[] = Array.isArray(config) ? config : config?.layers;
  if (!Array.isArray(raw)) throw new ModelError('model.json has no layer list in modelTopology');
  const weights = json.weightsManifest.flatMap((g) => g.weights);
  const sequential = topo.class_name === 'Sequential';
  const layers: LayerInfo[] = [];
  for (const l of raw) {
    if (l.class_name === 'InputLayer') continue;
    const name: string = l.config?.name ?? l.name;
    const inbound = sequential
      ? layers.length ? [layers[layers.length - 1].name] : []
      : ((l.inbound_nodes ?? []) as any[][]).flat().map((n: any) => (Array.isArray(n) ? n[0] : n?.args?.[0]?.config?.keras_history?.[0])).filter(Boolean);
    layers.push({ name, className: l.class_name, inbound, params: paramCount(weights, name), trainable: l.config?.trainable !== false });
  }
  return layers;
}

/** The layers the cut keeps: the cut layer and everything it depends on, in base order. */
export function layersUpTo(layers: LayerInfo[], cutIndex: number): LayerInfo[] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const keep = new Set<string>();
  const stack = [layers[cutIndex].name];
  while (stack.length) {
    const name = stack.pop()!;
    if (keep.has(name)) continue;
    keep.add(name);
    for (const i of byName.get(name)?.inbound ?? []) if (byName.has(i)) stack.push(i);
  }
  return layers.filter((l) => keep.has(l.name));
}
