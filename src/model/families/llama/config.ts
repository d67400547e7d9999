import { ModelError } from '../../../errors.ts';
import { configFields } from '../../hf/config-fields.ts';

/** The parts of a Hugging Face LlamaConfig (config.json) the decoder is built from, checked. */
export interface LlamaConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

export const LLAMA_MODEL_TYPES = ['llama'];

export function readLlamaConfig(json: Record<string, unknown>, where: string): LlamaConfig {
  const issues: string[] = [];
  const { int, num } = configFields(json, issues);
  const tokenId = (key: string): number | null => {
    const v = json[key];
    if (v === undefined || v === null) return null;
    // Some configs list several end tokens; the first is the one generation stops on by default.
    const first = Array.isArray(v) ? v[0] : v;
    if (!Number.isInteger(first) || first < 0) issues.push(`${key} must be a token id; got ${JSON.stringify(v)}`);
    return first as number;
  };
  const modelType = String(json.model_type);
  if (!LLAMA_MODEL_TYPES.includes(modelType)) issues.push(`model_type "${json.model_type}" is not a Llama family type (${LLAMA_MODEL_TYPES.join(', ')})`);
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const cfg: LlamaConfig = {
    modelType,
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads: int('num_key_value_heads', numHeads as number),
    headDim: int('head_dim', Number.isInteger(hiddenSize) && Number.isInteger(numHeads) ? Math.floor(hiddenSize / numHeads) : undefined),
    // LlamaConfig's own defaults, for configs that leave these out.
    rmsNormEps: num('rms_norm_eps', 1e-6, (n) => n > 0 && n < 1, 'a number in (0, 1)'),
    ropeTheta: num('rope_theta', 10000, (n) => n > 0, 'a positive number'),
    maxPositions: int('max_position_embeddings', 2048),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId: tokenId('eos_token_id'),
  };
  if ((json.hidden_act ?? 'silu') !== 'silu') issues.push(`hidden_act "${json.hidden_act}" is not supported (only "silu")`);
  if (json.rope_scaling !== undefined && json.rope_scaling !== null) issues.push(`rope_scaling ${JSON.stringify(json.rope_scaling)} is not supported (only plain RoPE)`);
  if (json.attention_bias === true || json.mlp_bias === true) issues.push('attention_bias and mlp_bias are not supported (Llama projections have no bias)');
  if (json.tie_word_embeddings !== undefined && typeof json.tie_word_embeddings !== 'boolean') issues.push(`tie_word_embeddings must be true or false; got ${JSON.stringify(json.tie_word_embeddings)}`);
  if (Number.isInteger(cfg.numHeads) && Number.isInteger(cfg.numKvHeads) && cfg.numHeads % cfg.numKvHeads !== 0) {
    issues.push(`num_attention_heads ${cfg.numHeads} is not a multiple of num_key_value_heads ${cfg.numKvHeads}`);
  }
  if (Number.isInteger(cfg.headDim) && cfg.headDim % 2 !== 0) issues.push(`the head size ${cfg.headDim} is odd; rotary embeddings rotate pairs`);
  if (json.head_dim === undefined && Number.isInteger(hiddenSize) && Number.isInteger(numHeads) && hiddenSize % numHeads !== 0) {
    issues.push(`hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  }
  if (issues.length) throw new ModelError(`${where}: ${issues.join('; ')}`, where);
  return cfg;
}
