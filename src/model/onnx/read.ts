import { ModelError } from '../../errors.ts';
import type { LayerInfo } from '../topology.ts';
import { onnx, type Onnx } from './proto.ts';

export interface OnnxTensorInfo {
  name: string;
  /** Numbers for fixed dimensions, names (or null) for free ones. */
  shape: (number | string | null)[];
  dtype: string;
}

export interface OnnxNodeInfo {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Weights among its inputs (initializers), counted in elements. */
  params: number;
}

export interface OnnxGraphInfo {
  model: Onnx.ModelProto;
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
  nodes: OnnxNodeInfo[];
  /** Shapes the file declares for inner tensors (value_info), by tensor name. */
  shapes: Map<string, (number | string | null)[]>;
  opset: number;
  producer: string;
  metadata: Record<string, string>;
}

// Named as tfjs names dtypes where the two agree.
const DTYPES: Record<number, string> = {
  ...Object.fromEntries(Object.entries(onnx.TensorProto.DataType).map(([k, v]) => [v, k.toLowerCase()])),
  [onnx.TensorProto.DataType.FLOAT]: 'float32',
  [onnx.TensorProto.DataType.DOUBLE]: 'float64',
};

function tensorInfo(v: Onnx.IValueInfoProto): OnnxTensorInfo {
  const t = v.type?.tensorType;
  const shape = (t?.shape?.dim ?? []).map((d) => (d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : d.dimParam || null));
  return { name: v.name ?? '', shape, dtype: DTYPES[t?.elemType ?? 0] ?? 'unknown' };
}

/** Decodes an ONNX file; `where` names it in errors. */
export function readOnnx(bytes: Uint8Array, where: string): OnnxGraphInfo {
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ModelError(`${where} is not an ONNX model: ${(err as Error).message}`, where);
  }
  // Decoded messages fill repeated fields with [] and strings with ''.
  const graph = model.graph as Onnx.GraphProto | null;
  if (!graph || !graph.node.length) throw new ModelError(`${where} is not an ONNX model: it holds no graph`, where);
  // Weights are the float initializers; integer ones are shapes and indices.
  const floats = new Set<number>([onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.FLOAT16, onnx.TensorProto.DataType.DOUBLE, onnx.TensorProto.DataType.BFLOAT16]);
  const sizes = new Map(graph.initializer.map((t) => [t.name, floats.has(t.dataType ?? 0) ? (t.dims as number[]).reduce<number>((a, b) => a * Number(b), 1) : 0]));
  const inputs = graph.input.filter((i) => !sizes.has(i.name)).map(tensorInfo);
  const nodes = (graph.node as Onnx.NodeProto[]).map((n, i) => ({
    name: n.name || n.output[0] || `node_${i}`,
    opType: n.domain ? `${n.domain}.${n.opType}` : n.opType,
    inputs: n.input,
    outputs: n.output,
    params: n.input.reduce((s, name) => s + (sizes.get(name) ?? 0), 0),
  }));
  const shapes = new Map([...graph.valueInfo, ...graph.output, ...graph.input].map((v) => [v.name ?? '', tensorInfo(v).shape]));
  const opset = Number(model.opsetImport.find((o) => !o.domain)?.version ?? 0);
  return {
    model,
    inputs,
    outputs: graph.output.map(tensorInfo),
    nodes,
    shapes,
    opset,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    metadata: Object.fromEntries(model.metadataProps.map((p) => [p.key ?? '', p.value ?? ''])),
  };
}

/**
 * An ONNX graph's nodes as the layers a spec addresses: each named by its first output, the
 * tensor a cut keeps, since exporters name nodes less consistently than tensors.
 */
export function onnxLayers(g: OnnxGraphInfo): LayerInfo[] {
  const producer = new Map<string, string>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n.outputs[0]);
  return g.nodes.map((n) => ({
    name: n.outputs[0],
    className: n.opType,
    inbound: n.inputs.map((i) => producer.get(i)).filter((p): p is string => p !== undefined),
    params: n.params,
  }));
}
