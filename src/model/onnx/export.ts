import type * as TF from '@tensorflow/tfjs';
import { stepsBetween } from '../graph.ts';
import { GraphBuilder } from './graph-builder.ts';
import { CONVERTERS, UnsupportedLayerError } from './layers.ts';
import { IR_VERSION, OPSET, onnx, valueInfo } from './proto.ts';

export { UnsupportedLayerError };

export interface OnnxExport {
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
}

/**
 * The part of a tfjs graph between `input` and `output` as an ONNX model, NHWC in and out as
 * users feed tfjs. Throws UnsupportedLayerError naming the first layer it cannot convert.
 */
export function exportOnnx(input: TF.SymbolicTensor, output: TF.SymbolicTensor, metadata: Record<string, string> = {}): OnnxExport {
  const b = new GraphBuilder();
  const inputName = b.name('input');
  const names = new Map<number, string>([[input.id, inputName]]);
  // Each layer's output shape, as tfjs knows it: what `tunespec inspect model.onnx` shows.
  const shapes: ReturnType<typeof valueInfo>[] = [];
  for (const step of stepsBetween([input], [output])) {
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
  // The graph output needs a name of its own even when the last layer is an identity.
  const outputName = b.op('Identity', [names.get(output.id)!], 'output');
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'tunespec',
    graph: {
      name: 'tunespec',
      node: b.nodes,
      initializer: b.initializers,
      input: [valueInfo(inputName, input.shape)],
      output: [valueInfo(outputName, output.shape)],
      valueInfo: shapes.filter((v) => v.name !== inputName),
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), inputName, outputName };
}
