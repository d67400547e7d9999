import { buildModel, disposeVariantModel, loadBase } from '../build.ts';
import { readModelFiles, type BaseModel } from '../source.ts';
import { listBaseLayers } from '../topology.ts';
import type { ModelFamily } from './types.ts';

/** A TensorFlow.js LayersModel (model.json and weight shards): cut and head are one tfjs model. */
export const tfjsLayersFamily: ModelFamily<Extract<BaseModel, { format: 'tfjs' }>> = {
  format: 'tfjs',
  async load(location) {
    const files = await readModelFiles(location);
    return { base: { format: 'tfjs', files }, layers: listBaseLayers(files.json) };
  },
  async build(tf, { base, layers }, cutIndex, spec) {
    const model = await loadBase(tf, base.files);
    const built = buildModel(tf, model, layers[cutIndex].name, spec);
    return { built, dispose: async () => disposeVariantModel(built, model) };
  },
};
