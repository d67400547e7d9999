import { anyTf } from '../engine/backends.ts';
import { OnnxSession } from '../engine/onnx-runtime.ts';
import { ModelError } from '../errors.ts';
import { buildHeadModel, buildModel, disposeVariantModel, loadBase, type BuiltModel } from '../model/build.ts';
import { inputShape, truncateAt } from '../model/onnx/edit.ts';
import type { LayerInfo } from '../model/topology.ts';
import { cutIndexOf } from '../spec/semantic.ts';
import type { Experiment } from '../spec/types.ts';
import type { LoadedSpec } from './load-spec.ts';

/** The model a spec's variant builds, for showing it (plan, inspect): nothing trains. */
export interface SpecModel {
  /** The tfjs part: the whole model on a tfjs base, the head alone on an ONNX base. */
  built: BuiltModel;
  /** The ONNX base's kept nodes (frozen) and its input as tunespec feeds it (NHWC), when the base is ONNX. */
  onnxBase?: LayerInfo[];
  onnxInput?: number[];
  dispose(): Promise<void>;
}

/** What an ONNX base outputs at the cut, per example, as the head sees it (NHWC). */
async function onnxShapes(bytes: Uint8Array, cut: string, layout: 'nhwc' | 'nchw'): Promise<{ input: number[]; features: number[] }> {
  const graph = truncateAt(bytes, cut, layout);
  const shape = inputShape(graph);
  if (shape.some((d) => d === null)) throw new ModelError(`the ONNX base's input [${shape.map((d) => d ?? '?').join(', ')}] is not fixed, so its output shape is unknown until it runs`);
  const session = await OnnxSession.load(graph);
  try {
    const out = (await session.run(new Float32Array((shape as number[]).reduce((a, b) => a * b, 1)), shape as number[], 1)).shape;
    return { input: shape as number[], features: layout === 'nchw' && out.length === 3 ? [out[1], out[2], out[0]] : out };
  } finally {
    await session.dispose();
  }
}

export async function specModel(spec: LoadedSpec, variant: Experiment): Promise<SpecModel> {
  const tf = await anyTf();
  const cutIndex = cutIndexOf(variant, spec.model.layers)!;
  const cut = spec.model.layers[cutIndex].name;
  if (spec.model.base.format === 'onnx') {
    const kept = spec.model.layers.slice(0, cutIndex + 1);
    const shapes = await onnxShapes(spec.model.base.bytes, cut, variant.base_model.preprocess?.layout ?? 'nhwc');
    const built = buildHeadModel(tf, shapes.features, kept, variant);
    return { built, onnxBase: kept, onnxInput: shapes.input, dispose: async () => void built.model.dispose() };
  }
  const base = await loadBase(tf, spec.model.base.files);
  const built = buildModel(tf, base, cut, variant);
  return { built, dispose: async () => disposeVariantModel(built, base) };
}
