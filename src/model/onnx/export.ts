import type * as TF from '@tensorflow/tfjs';
import { stepsBetween } from '../graph.ts';
import { GraphBuilder } from './graph-builder.ts';
import { CONVERTERS, UnsupportedLayerError } from './layers.ts';
import { irVersionFor, onnx, valueInfo } from './proto.ts';

export { UnsupportedLayerError };

export interface OnnxExport {
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
}

/** One end of an exported graph: a tfjs tensor and the name it has in ONNX. */
export interface GraphEnd {
  tensor: TF.SymbolicTensor;
  name: string;
}

export interface OnnxGraphExport {
  bytes: Uint8Array;
  inputNames: string[];
  outputNames: string[];
}

/** int32 tfjs inputs (token ids, attention masks) are int64 in ONNX, as Hugging Face's exports and tokenizers have them. */
function elemType(t: TF.SymbolicTensor): number {
  return t.dtype === 'float32' ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64;
}

/**
 * The part of a tfjs graph between `inputs` and `outputs` as an ONNX model, each end under its
 * given name. Inputs may be a model's inputs or inner tensors (a cached boundary); every input is
 * declared even where the graph does not read it, so callers feed what a tokenizer gives. Throws
 * UnsupportedLayerError naming the first layer it cannot convert.
 */
export function exportGraph(inputs: readonly GraphEnd[], outputs: readonly GraphEnd[], metadata: Record<string, string> = {}): OnnxGraphExport {
  const b = new GraphBuilder();
  for (const end of [...inputs, ...outputs]) {
    if (b.name(end.name) !== end.name) throw new Error(`ONNX graph ends need distinct names; "${end.name}" is used twice`);
  }
  const names = new Map<number, string>(inputs.map((i) => [i.tensor.id, i.name]));
  // Each layer's output shape, as tfjs knows it: what `tunespec inspect model.onnx` shows.
  const shapes: ReturnType<typeof valueInfo>[] = [];
  for (const step of stepsBetween(
    inputs.map((i) => i.tensor),
    outputs.map((o) => o.tensor),
  )) {
    const convert = CONVERTERS[step.layer.getClassName()];
    if (!convert) throw new UnsupportedLayerError(step.layer.name, step.layer.getClassName());
    if (step.outputs.length !== 1) throw new UnsupportedLayerError(step.layer.name, step.layer.getClassName(), 'has several outputs');
    const out = convert({
      b,
      layer: step.layer,
      config: step.layer.getConfig(),
      inputs: step.inputs.map((t) => names.get(t.id)!),
      inputShapes: step.inputs.map((t) => t.shape as (number | null)[]),
    });
    names.set(step.outputs[0].id, out);
    shapes.push(valueInfo(out, step.outputs[0].shape));
  }
  // Graph outputs need names of their own even where the last layer is an identity.
  for (const o of outputs) b.nodes.push({ opType: 'Identity', name: o.name, input: [names.get(o.tensor.id)!], output: [o.name] });
  const inputNames = new Set(inputs.map((i) => i.name));
  const model = onnx.ModelProto.create({
    irVersion: irVersionFor(b.opset),
    opsetImport: [{ domain: '', version: b.opset }],
    producerName: 'tunespec',
    graph: {
      name: 'tunespec',
      node: b.nodes,
      initializer: b.initializers,
      input: inputs.map((i) => valueInfo(i.name, i.tensor.shape, elemType(i.tensor))),
      output: outputs.map((o) => valueInfo(o.name, o.tensor.shape, elemType(o.tensor))),
      valueInfo: shapes.filter((v) => !inputNames.has(v.name!)),
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), inputNames: inputs.map((i) => i.name), outputNames: outputs.map((o) => o.name) };
}

/** One input, one output, NHWC in and out as users feed tfjs: the image and feature-cache case. */
export function exportOnnx(input: TF.SymbolicTensor, output: TF.SymbolicTensor, metadata: Record<string, string> = {}): OnnxExport {
  const { bytes } = exportGraph([{ tensor: input, name: 'input' }], [{ tensor: output, name: 'output' }], metadata);
  return { bytes, inputName: 'input', outputName: 'output' };
}
