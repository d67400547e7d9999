import type { ClassifierFamily } from '../../hf/family.ts';
import { buildBertEncoder, BERT_INPUTS } from './build.ts';
import { BERT_MODEL_TYPES, readBertConfig, type BertConfig } from './config.ts';
import { listBertLayers } from './layer-list.ts';
import { exportBertWeights, hasPooler, loadBertWeights } from './weights.ts';

export const bertFamily: ClassifierFamily<BertConfig> = {
  modelTypes: BERT_MODEL_TYPES,
  readConfig: readBertConfig,
  build: (tf, config, weights) => buildBertEncoder(tf, config, { pooler: hasPooler(weights) }),
  loadWeights: loadBertWeights,
  exportWeights: exportBertWeights,
  listLayers: listBertLayers,
  inputs: BERT_INPUTS,
};
