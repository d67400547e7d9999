import { ModelError } from '../../../errors.ts';
import { configFields } from '../../hf/config-fields.ts';
import { bertLayoutFamily } from '../bert/index.ts';
import { UNTYPED_INPUTS } from '../bert/build.ts';
import { checkHeads, type BertConfig } from '../bert/config.ts';

export const DISTILBERT_MODEL_TYPES = ['distilbert'];

/**
 * A DistilBertConfig: BERT's block under other names (`transformer.layer.N`, q_lin…, sa_layer_norm),
 * no token type table and no pooler; `dim`, `hidden_dim`, `n_layers`, `n_heads` for the sizes, and
 * LayerNorm's epsilon fixed at 1e-12 by the model code.
 */
export function readDistilBertConfig(json: Record<string, unknown>, where: string): BertConfig {
  const issues: string[] = [];
  const { int, num } = configFields(json, issues);
  if (!DISTILBERT_MODEL_TYPES.includes(String(json.model_type))) issues.push(`model_type "${json.model_type}" is not a DistilBERT family type (${DISTILBERT_MODEL_TYPES.join(', ')})`);
  const cfg: BertConfig = {
    modelType: String(json.model_type),
    vocabSize: int('vocab_size'),
    hiddenSize: int('dim', 768),
    numLayers: int('n_layers', 6),
    numHeads: int('n_heads', 12),
    intermediateSize: int('hidden_dim', 3072),
    maxPositions: int('max_position_embeddings', 512),
    typeVocabSize: 0,
    layerNormEps: 1e-12,
    hiddenDropout: num('dropout', 0.1, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
    attentionDropout: num('attention_dropout', 0.1, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
    hiddenAct: 'gelu',
    padTokenId: int('pad_token_id', 0, 0),
    positionOffset: 0,
    tokenTypes: false,
    naming: 'distilbert',
    taskPrefix: 'distilbert.',
  };
  if ((json.activation ?? 'gelu') !== 'gelu') issues.push(`activation "${json.activation}" is not supported (only "gelu", the erf form)`);
  // sinusoidal_pos_embds needs nothing of its own: the fixed table is saved in the checkpoint like a learned one.
  checkHeads(cfg, issues, 'dim', 'n_heads');
  if (issues.length) throw new ModelError(`${where}: ${issues.join('; ')}`, where);
  return cfg;
}

export const distilbertFamily = bertLayoutFamily(DISTILBERT_MODEL_TYPES, readDistilBertConfig, UNTYPED_INPUTS);
