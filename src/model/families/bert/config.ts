import { ModelError } from '../../../errors.ts';
import { configFields } from '../../hf/config-fields.ts';

/** The parts of a Hugging Face BertConfig (config.json) the encoder is built from, checked. */
export interface BertConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  hiddenDropout: number;
  attentionDropout: number;
  hiddenAct: 'gelu';
  padTokenId: number;
}

/** model_type values whose parameters carry BERT's names and shapes. */
export const BERT_MODEL_TYPES = ['bert'];

export function readBertConfig(json: Record<string, unknown>, where: string): BertConfig {
  const issues: string[] = [];
  const { int, num } = configFields(json, issues);
  const modelType = String(json.model_type);
  if (!BERT_MODEL_TYPES.includes(modelType)) issues.push(`model_type "${json.model_type}" is not a BERT family type (${BERT_MODEL_TYPES.join(', ')})`);
  const cfg: BertConfig = {
    modelType,
    vocabSize: int('vocab_size'),
    hiddenSize: int('hidden_size'),
    numLayers: int('num_hidden_layers'),
    numHeads: int('num_attention_heads'),
    intermediateSize: int('intermediate_size'),
    maxPositions: int('max_position_embeddings'),
    typeVocabSize: int('type_vocab_size', 2),
    // BertConfig's own defaults, for configs that leave these out.
    layerNormEps: num('layer_norm_eps', 1e-12, (n) => n > 0 && n < 1, 'a number in (0, 1)'),
    hiddenDropout: num('hidden_dropout_prob', 0.1, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
    attentionDropout: num('attention_probs_dropout_prob', 0.1, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
    hiddenAct: 'gelu',
    padTokenId: int('pad_token_id', 0, 0),
  };
  // HF's "gelu" is the exact erf form; the tanh approximations would give different numbers.
  if ((json.hidden_act ?? 'gelu') !== 'gelu') issues.push(`hidden_act "${json.hidden_act}" is not supported (only "gelu", the erf form)`);
  const pos = json.position_embedding_type ?? 'absolute';
  if (pos !== 'absolute') issues.push(`position_embedding_type "${pos}" is not supported (only "absolute")`);
  if (json.is_decoder === true || json.add_cross_attention === true) issues.push('decoder BERT configs (is_decoder, add_cross_attention) are not supported');
  if (Number.isInteger(cfg.hiddenSize) && Number.isInteger(cfg.numHeads) && cfg.hiddenSize % cfg.numHeads !== 0) {
    issues.push(`hidden_size ${cfg.hiddenSize} is not a multiple of num_attention_heads ${cfg.numHeads}`);
  }
  if (issues.length) throw new ModelError(`${where}: ${issues.join('; ')}`, where);
  return cfg;
}
