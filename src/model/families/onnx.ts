import { layoutOf } from '../../spec/derived.ts';
import { buildHeadModel } from '../build.ts';
import { cutOnnxBase } from '../onnx/cut.ts';
import { onnxLayers, readOnnx } from '../onnx/read.ts';
import { describeLocation, isOnnxSource, readBytes, type BaseModel } from '../source.ts';
import type { ModelFamily } from './types.ts';

/** An ONNX graph: it runs in onnxruntime, cut at a node; the head is a tfjs model on its features. */
export const onnxFamily: ModelFamily<Extract<BaseModel, { format: 'onnx' }>> = {
  format: 'onnx',
  claims: isOnnxSource,
  async load(location) {
    const bytes = await readBytes(location);
    return { base: { format: 'onnx', bytes }, layers: onnxLayers(readOnnx(bytes, describeLocation(location))) };
  },
  async build(tf, { base, layers }, cutIndex, spec) {
    const kept = layers.slice(0, cutIndex + 1);
    const cut = await cutOnnxBase(base.bytes, layers[cutIndex].name, layoutOf(spec));
    const built = buildHeadModel(tf, cut.featureShape, kept, spec);
    return { built, outside: kept, inputShape: cut.inputShape as number[], dispose: async () => void built.model.dispose() };
  },
};
