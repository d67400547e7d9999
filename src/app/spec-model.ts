import { anyTf } from '../engine/backends.ts';
import { cutOnnxBase } from '../model/onnx/cut.ts';
import { buildHeadModel, buildModel, disposeVariantModel, loadBase, type BuiltModel } from '../model/build.ts';
import type { LayerInfo } from '../model/topology.ts';
import { layoutOf } from '../spec/derived.ts';
import type { Variant } from '../plan/expand.ts';
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

export async function specModel(spec: LoadedSpec, { id, spec: variant }: Variant): Promise<SpecModel> {
  const tf = await anyTf();
  const cutIndex = spec.model.cutIndexes.get(id)!;
  const cut = spec.model.layers[cutIndex].name;
  if (spec.model.base.format === 'onnx') {
    const kept = spec.model.layers.slice(0, cutIndex + 1);
    const base = await cutOnnxBase(spec.model.base.bytes, cut, layoutOf(variant));
    const built = buildHeadModel(tf, base.featureShape, kept, variant);
    return { built, onnxBase: kept, onnxInput: base.inputShape as number[], dispose: async () => void built.model.dispose() };
  }
  const base = await loadBase(tf, spec.model.base.files);
  const built = buildModel(tf, base, cut, variant);
  return { built, dispose: async () => disposeVariantModel(built, base) };
}
