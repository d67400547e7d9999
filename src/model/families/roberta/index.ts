import { ModelError } from '../../../errors.ts';
import { bertLayoutFamily } from '../bert/index.ts';
import { UNTYPED_INPUTS } from '../bert/build.ts';
import { readBertLikeConfig, type BertConfig } from '../bert/config.ts';

/** model_type values with RoBERTa's layout: BERT's parameter names, positions after padding_idx. */
export const ROBERTA_MODEL_TYPES = ['roberta', 'xlm-roberta'];

/**
 * A RobertaConfig (XLM-RoBERTa's too): BERT's keys, with what RobertaEmbeddings does differently.
 * Positions count from padding_idx + 1 (pad_token_id, 1 by default), so max_position_embeddings
 * 514 takes 512 tokens. Its tokenizers give every token type 0 and RobertaModel adds type row 0
 * when given no token_type_ids, so the model takes none.
 */
export function readRobertaConfig(json: Record<string, unknown>, where: string): BertConfig {
  const cfg = readBertLikeConfig(json, where, ROBERTA_MODEL_TYPES, 'RoBERTa', { padTokenId: 1 });
  const roberta: BertConfig = { ...cfg, positionOffset: cfg.padTokenId + 1, tokenTypes: false, taskPrefix: 'roberta.' };
  if (roberta.maxPositions <= roberta.positionOffset) {
    throw new ModelError(`${where}: max_position_embeddings ${roberta.maxPositions} leaves no position for a token after padding_idx ${roberta.padTokenId} (RoBERTa's first token takes row ${roberta.positionOffset})`, where);
  }
  return roberta;
}

export const robertaFamily = bertLayoutFamily(ROBERTA_MODEL_TYPES, readRobertaConfig, UNTYPED_INPUTS);
