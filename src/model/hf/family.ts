import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../engine/backends.ts';
import type { LayerInfo } from '../topology.ts';
import type { TensorToWrite } from './safetensors-write.ts';
import type { HfWeights } from './weights.ts';

/**
 * One architecture family of Hugging Face encoders (BERT, RoBERTa, DistilBERT; Llama): how
 * its config.json reads, how its named layers are built, how checkpoint tensors map onto them and
 * back. A new family is a module implementing this, added to the map in encoder.ts.
 */
export interface HfEncoderFamily<Config = unknown> {
  /** config.json model_type values this family reads. */
  modelTypes: readonly string[];
  readConfig(json: Record<string, unknown>, where: string): Config;
  /** Layers named by HF module prefix; `weights` only tells which optional parts (a pooler) exist. */
  build(tf: Tf, config: Config, weights: HfWeights): TF.LayersModel;
  /** Checked copy of the checkpoint into the model; returns checkpoint tensors left unused. */
  loadWeights(tf: Tf, model: TF.LayersModel, config: Config, weights: HfWeights): { unused: string[] };
  /** The weights under HF names and layouts, for a safetensors file. */
  exportWeights(model: TF.LayersModel): TensorToWrite[];
  /**
   * The layers `build` makes, named and counted from config.json and the checkpoint's tensor list
   * alone: what spec checks and plans read without loading TensorFlow.js. Every family a
   * classification spec can build on has it (see `ClassifierFamily`); the Llama decoder does not yet.
   */
  listLayers?(config: Config, weights: HfWeights): LayerInfo[];
  /** The most tokens one input may have (the position table's reach), when the family has a limit. */
  maxTokens?(config: Config): number;
  /** Model inputs, in order. */
  inputs: readonly string[];
}

/** A family that classification specs build on: its layers can be listed without tfjs. */
export type ClassifierFamily<Config = unknown> = HfEncoderFamily<Config> & Required<Pick<HfEncoderFamily<Config>, 'listLayers'>>;
