import { ModelError } from '../../errors.ts';
import { onnx, type Onnx } from './proto.ts';

import type { Layout } from '../../spec/derived.ts';

function transpose(input: string, output: string, perm: number[]): Onnx.INodeProto {
  return { opType: 'Transpose', name: output, input: [input], output: [output], attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: perm }] };
}

/** Nodes and weights that `outputs` depend on, in the graph's order. */
function prune(graph: Onnx.GraphProto, outputs: string[]): { node: Onnx.INodeProto[]; initializer: Onnx.ITensorProto[] } {
  const needed = new Set(outputs);
  const kept: Onnx.INodeProto[] = [];
  for (const n of [...(graph.node as Onnx.NodeProto[])].reverse()) {
    if (!n.output.some((o) => needed.has(o))) continue;
    kept.unshift(n);
    for (const i of n.input ?? []) needed.add(i);
  }
  return { node: kept, initializer: (graph.initializer as Onnx.TensorProto[]).filter((t) => needed.has(t.name)) };
}

/**
 * The base graph up to the tensor `cut`, taking NHWC input as the rest of tunespec does: for an
 * NCHW model a Transpose goes in front, and 4-D features are handed back NHWC (`featureRank`
 * says whether they are; unknown until the graph has run once).
 */
export function truncateAt(bytes: Uint8Array, cut: string, layout: Layout, featureRank?: number): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph as Onnx.GraphProto;
  if (!(graph.node as Onnx.NodeProto[]).some((n) => n.output.includes(cut))) throw new ModelError(`the ONNX graph has no node output "${cut}"`);
  const weights = new Set((graph.initializer as Onnx.TensorProto[]).map((t) => t.name));
  const inputs = (graph.input as Onnx.ValueInfoProto[]).filter((i) => !weights.has(i.name));
  if (inputs.length !== 1) throw new ModelError(`the ONNX base has ${inputs.length} inputs; tunespec feeds exactly one`);
  const { node, initializer } = prune(graph, [cut]);
  const original = inputs[0];
  const dims = original.type?.tensorType?.shape?.dim ?? [];
  const nodes: Onnx.INodeProto[] = [...node];
  let input: Onnx.IValueInfoProto = original;
  if (layout === 'nchw') {
    if (dims.length !== 4) throw new ModelError(`preprocess.layout nchw needs a 4-D input; the ONNX base's input "${original.name}" has ${dims.length} dimensions`);
    const nhwc = `${original.name}__nhwc`;
    nodes.unshift(transpose(nhwc, original.name, [0, 3, 1, 2]));
    input = { name: nhwc, type: { tensorType: { elemType: original.type?.tensorType?.elemType, shape: { dim: [dims[0], dims[2], dims[3], dims[1]] } } } };
  }
  let output = cut;
  if (layout === 'nchw' && featureRank === 4) {
    output = `${cut}__nhwc`;
    nodes.push(transpose(cut, output, [0, 2, 3, 1]));
  }
  graph.node = nodes as Onnx.NodeProto[];
  graph.initializer = initializer as Onnx.TensorProto[];
  graph.input = [input as Onnx.ValueInfoProto];
  graph.output = [{ name: output, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } } as Onnx.ValueInfoProto];
  return onnx.ModelProto.encode(model).finish();
}

/**
 * One graph: `base` (already truncated) feeding `head` (tunespec's export of the head, whose
 * single input takes the base's output). Head names get a prefix so the two never collide.
 */
export function chain(base: Uint8Array, head: Uint8Array): Uint8Array {
  const b = onnx.ModelProto.decode(base);
  const h = onnx.ModelProto.decode(head);
  const bg = b.graph as Onnx.GraphProto;
  const hg = h.graph as Onnx.GraphProto;
  const joint = (bg.output[0] as Onnx.ValueInfoProto).name;
  const headInput = (hg.input[0] as Onnx.ValueInfoProto).name;
  const rename = (n: string): string => (n === headInput ? joint : n ? `head/${n}` : n);
  for (const n of hg.node as Onnx.NodeProto[]) {
    n.input = n.input.map(rename);
    n.output = n.output.map(rename);
    n.name = rename(n.name);
  }
  for (const t of hg.initializer as Onnx.TensorProto[]) t.name = rename(t.name);
  const opset = Math.max(...[...b.opsetImport, ...h.opsetImport].filter((o) => !o.domain).map((o) => Number(o.version)));
  b.opsetImport = [...b.opsetImport.filter((o) => o.domain), { domain: '', version: opset }] as Onnx.OperatorSetIdProto[];
  b.irVersion = Math.max(Number(b.irVersion), Number(h.irVersion));
  bg.node.push(...hg.node);
  bg.initializer.push(...hg.initializer);
  bg.valueInfo = [];
  bg.output = (hg.output as Onnx.ValueInfoProto[]).map((o) => Object.assign(o, { name: rename(o.name) }));
  b.metadataProps = h.metadataProps;
  b.producerName = 'tunespec';
  return onnx.ModelProto.encode(b).finish();
}

/** The graph input's shape with the batch left out, in tunespec's NHWC order after `truncateAt`. */
export function inputShape(bytes: Uint8Array): (number | null)[] {
  const g = onnx.ModelProto.decode(bytes).graph as Onnx.GraphProto;
  const weights = new Set((g.initializer as Onnx.TensorProto[]).map((t) => t.name));
  const dims = (g.input as Onnx.ValueInfoProto[]).find((i) => !weights.has(i.name))?.type?.tensorType?.shape?.dim ?? [];
  return dims.slice(1).map((d) => (d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : null));
}


/**
 * Two of tunespec's own exports as one graph: `prefix`'s single output feeds `suffix`'s single
 * input. Unlike `chain`, both keep their names and layer shapes (what `inspect model.onnx` shows);
 * only a suffix name the prefix already uses gets a suffix of its own. The result computes what
 * exporting the whole model in one piece does, so a frozen prefix is exported once per sweep.
 */
export function joinExports(prefix: Uint8Array, suffix: Uint8Array): Uint8Array {
  const p = onnx.ModelProto.decode(prefix);
  const s = onnx.ModelProto.decode(suffix);
  const pg = p.graph as Onnx.GraphProto;
  const sg = s.graph as Onnx.GraphProto;
  const taken = new Set<string>();
  for (const n of pg.node as Onnx.NodeProto[]) [n.name, ...n.input, ...n.output].forEach((x) => taken.add(x));
  for (const t of pg.initializer as Onnx.TensorProto[]) taken.add(t.name);
  for (const i of pg.input as Onnx.ValueInfoProto[]) taken.add(i.name);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  // The prefix's output becomes an inner tensor, so the suffix's output can keep its name; the
  // Identity that named it (export.ts) goes, and the suffix reads the layer's own output.
  const prefixOut = (pg.output[0] as Onnx.ValueInfoProto).name;
  const namer = (pg.node as Onnx.NodeProto[]).findIndex((n) => n.output.includes(prefixOut));
  let joint: string;
  const named = pg.node[namer] as Onnx.NodeProto | undefined;
  if (named?.opType === 'Identity') {
    joint = named.input[0];
    pg.node.splice(namer, 1);
  } else {
    joint = fresh(`${prefixOut}__joint`);
    for (const n of pg.node as Onnx.NodeProto[]) n.output = n.output.map((o) => (o === prefixOut ? joint : o));
  }
  taken.delete(prefixOut);
  const suffixIn = (sg.input[0] as Onnx.ValueInfoProto).name;
  const renamed = new Map<string, string>([[suffixIn, joint]]);
  const rename = (n: string): string => {
    if (!n) return n;
    let r = renamed.get(n);
    if (r === undefined) renamed.set(n, (r = taken.has(n) ? fresh(n) : (taken.add(n), n)));
    return r;
  };
  for (const n of sg.node as Onnx.NodeProto[]) {
    n.input = n.input.map(rename);
    n.output = n.output.map(rename);
    n.name = rename(n.name);
  }
  for (const t of sg.initializer as Onnx.TensorProto[]) t.name = rename(t.name);
  for (const v of sg.valueInfo as Onnx.ValueInfoProto[]) v.name = rename(v.name);
  for (const o of sg.output as Onnx.ValueInfoProto[]) o.name = rename(o.name);
  const opset = Math.max(...[...p.opsetImport, ...s.opsetImport].filter((o) => !o.domain).map((o) => Number(o.version)));
  p.opsetImport = [...p.opsetImport.filter((o) => o.domain), { domain: '', version: opset }] as Onnx.OperatorSetIdProto[];
  p.irVersion = Math.max(Number(p.irVersion), Number(s.irVersion));
  pg.node.push(...sg.node);
  pg.initializer.push(...sg.initializer);
  pg.valueInfo.push(...sg.valueInfo);
  pg.output = sg.output;
  p.metadataProps = s.metadataProps;
  return onnx.ModelProto.encode(p).finish();
}
