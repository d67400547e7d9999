import type { HfEncoderFamily } from '../../hf/family.ts';
import { buildLlama, LLAMA_INPUTS } from './build.ts';
import { LLAMA_MODEL_TYPES, readLlamaConfig, type LlamaConfig } from './config.ts';
import { exportLlamaWeights, loadLlamaWeights } from './weights.ts';

/** The Llama decoder under the same family interface as the encoders (its one output is the logits). */
export const llamaFamily: HfEncoderFamily<LlamaConfig> = {
  modelTypes: LLAMA_MODEL_TYPES,
  readConfig: readLlamaConfig,
  build: (tf, config) => buildLlama(tf, config, { randomInit: false }),
  loadWeights: loadLlamaWeights,
  exportWeights: exportLlamaWeights,
  inputs: LLAMA_INPUTS,
};
