import { ModelError } from '../../../errors.ts';
import { configFields } from '../../hf/config-fields.ts';
import type { NamingStyle } from './naming.ts';

/**
 * The parts of a Hugging Face BertConfig (config.json) the encoder is built from, checked. RoBERTa
 * and DistilBERT configs are read into the same shape (families/roberta, families/distilbert):
 * their encoders are BERT's with other names, position rows and token types.
 */
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
  /** The position-table row of the first token: 0 for BERT, padding_idx + 1 for RoBERTa. */
  positionOffset: number;
  /** Whether the model takes token_type_ids (BERT); RoBERTa adds type row 0 to every token, DistilBERT has no type table (typeVocabSize 0). */
  tokenTypes: boolean;
  /** What the checkpoint calls the blocks and their parts. */
  naming: NamingStyle;
  /** The prefix a task checkpoint (BertForSequenceClassification…) puts on the encoder's parameters. */
  taskPrefix: string;
}

/** The longest input the position table takes: max_position_embeddings less the rows before the first token. */
export function maxTokens(cfg: Pick<BertConfig, 'maxPositions' | 'positionOffset'>): number {
  return cfg.maxPositions - cfg.positionOffset;
}

/** model_type values whose parameters carry BERT's names and shapes. */
export const BERT_MODEL_TYPES = ['bert'];

export function readBertConfig(json: Record<string, unknown>, where: string): BertConfig {
  return readBertLikeConfig(json, where, BERT_MODEL_TYPES, 'BERT', { padTokenId: 0 });
}

/** A config.json with BertConfig's keys (BERT, RoBERTa), checked; `defaults` are the family's own. */
export function readBertLikeConfig(json: Record<string, unknown>, where: string, modelTypes: readonly string[], familyName: string, defaults: { padTokenId: number }): BertConfig {
  const issues: string[] = [];
  const { int, num } = configFields(json, issues);
  const modelType = String(json.model_type);
  if (!modelTypes.includes(modelType)) issues.push(`model_type "${json.model_type}" is not a ${familyName} family type (${modelTypes.join(', ')})`);
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
    padTokenId: int('pad_token_id', defaults.padTokenId, 0),
    positionOffset: 0,
    tokenTypes: true,
    naming: 'bert',
    taskPrefix: 'bert.',
  };
  // HF's "gelu" is the exact erf form; the tanh approximations would give different numbers.
  if ((json.hidden_act ?? 'gelu') !== 'gelu') issues.push(`hidden_act "${json.hidden_act}" is not supported (only "gelu", the erf form)`);
  const pos = json.position_embedding_type ?? 'absolute';
  if (pos !== 'absolute') issues.push(`position_embedding_type "${pos}" is not supported (only "absolute")`);
  if (json.is_decoder === true || json.add_cross_attention === true) issues.push('decoder BERT configs (is_decoder, add_cross_attention) are not supported');
  checkHeads(cfg, issues, 'hidden_size', 'num_attention_heads');
  if (issues.length) throw new ModelError(`${where}: ${issues.join('; ')}`, where);
  return cfg;
}

export function checkHeads(cfg: BertConfig, issues: string[], hiddenKey: string, headsKey: string): void {
  if (Number.isInteger(cfg.hiddenSize) && Number.isInteger(cfg.numHeads) && cfg.hiddenSize % cfg.numHeads !== 0) {
    issues.push(`${hiddenKey} ${cfg.hiddenSize} is not a multiple of ${headsKey} ${cfg.numHeads}`);
  }
}
