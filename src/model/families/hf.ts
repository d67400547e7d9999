import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../engine/backends.ts';
import { buildModel, disposeVariantModel, type BuiltModel } from '../build.ts';
import { familyOf, loadHfEncoder, readConfigJson } from '../hf/encoder.ts';
import { resolveHfFolder } from '../hf/folder.ts';
import { readHfWeights } from '../hf/weights.ts';
import { isHfFolderSource, type BaseModel } from '../source.ts';
import { registerMaskedPooling } from '../layers/masked-pooling.ts';
import { bertLayerClasses } from './bert/layers.ts';
import type { Experiment } from '../../spec/types.ts';
import type { LoadedBase, ModelFamily } from './types.ts';

type HfBase = Extract<BaseModel, { format: 'hf' }>;

/** Make tunespec's own layer classes known to `tf`, so a saved model that uses them loads. */
export function registerModelLayers(tf: Tf): void {
  bertLayerClasses(tf);
  registerMaskedPooling(tf);
}

/** A variant on a Hugging Face encoder: the encoder as loaded, and the model built on it. */
export interface HfVariantModel {
  encoder: TF.LayersModel;
  built: BuiltModel;
  /** The encoder's input names, in the order the model takes them. */
  inputs: readonly string[];
}

/**
 * The encoder from the folder, cut at layer `cutIndex`, with the spec's head: its inputs are the
 * encoder's (input_ids, attention_mask, token_type_ids), and a pooling head reads the mask.
 */
export async function buildHfVariant(tf: Tf, base: HfBase, layers: LoadedBase['layers'], cutIndex: number, spec: Experiment): Promise<HfVariantModel> {
  const { model: encoder, family } = await loadHfEncoder(tf, base.folder);
  try {
    const mask = encoder.inputs[family.inputs.indexOf('attention_mask')];
    return { encoder, built: buildModel(tf, encoder, layers[cutIndex].name, spec, mask), inputs: family.inputs };
  } catch (err) {
    encoder.dispose();
    throw err;
  }
}

/**
 * A Hugging Face encoder folder (config.json, safetensors weights, tokenizer.json): local, file://,
 * http(s) or hf://. Its layers are listed from config.json and the checkpoint's tensor names, so
 * spec checks never load tfjs; the encoder is built and its weights loaded only to train or show.
 */
export const hfFamily: ModelFamily<HfBase> = {
  format: 'hf',
  claims: isHfFolderSource,
  async load(location) {
    const resolved = await resolveHfFolder(location.kind === 'url' ? location.url : location.path, '/', { env: process.env });
    const { json, where } = await readConfigJson(resolved.folder);
    const family = familyOf(json.model_type, where);
    const config = family.readConfig(json, where);
    const layers = family.listLayers(config, await readHfWeights(resolved.folder));
    const maxTokens = family.maxTokens?.(config);
    return { base: { format: 'hf', folder: resolved.folder, source: resolved.source, files: resolved.files, modelType: String(json.model_type), maxTokens }, layers };
  },
  async build(tf, { base, layers }, cutIndex, spec) {
    const { encoder, built } = await buildHfVariant(tf, base, layers, cutIndex, spec);
    return { built, dispose: async () => disposeVariantModel(built, encoder) };
  },
};
