import type { ClassifierFamily } from '../../hf/family.ts';
import { buildBertEncoder, BERT_INPUTS } from './build.ts';
import { BERT_MODEL_TYPES, maxTokens, readBertConfig, type BertConfig } from './config.ts';
import { listBertLayers } from './layer-list.ts';
import { exportBertWeights, hasPooler, loadBertWeights } from './weights.ts';

/**
 * What BERT-layout families share: BERT, RoBERTa and DistilBERT differ only in how config.json
 * reads (positions, token types, names), so each is its config reader over these.
 */
export function bertLayoutFamily(modelTypes: readonly string[], readConfig: (json: Record<string, unknown>, where: string) => BertConfig, inputs: readonly string[]): ClassifierFamily<BertConfig> {
  return {
    modelTypes,
    readConfig,
    build: (tf, config, weights) => buildBertEncoder(tf, config, { pooler: hasPooler(config, weights) }),
    loadWeights: loadBertWeights,
    exportWeights: exportBertWeights,
    listLayers: listBertLayers,
    maxTokens,
    inputs,
  };
}

export const bertFamily = bertLayoutFamily(BERT_MODEL_TYPES, readBertConfig, BERT_INPUTS);
