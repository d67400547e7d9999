import type { HfWeights } from '../../hf/weights.ts';
import type { LayerInfo } from '../../topology.ts';
import type { BertConfig } from './config.ts';
import { BLOCK_NAMING } from './naming.ts';
import { hasPooler } from './weights.ts';

/** The class names the layers of layers.ts serialise under. */
export const BERT_LAYER_CLASSES = { embeddings: 'TunespecBertEmbeddings', block: 'TunespecBertLayer', pooler: 'TunespecBertPooler' } as const;

/** buildBertEncoder's layers and their parameter counts, from the config alone (no tfjs). */
export function listBertLayers(cfg: BertConfig, weights: HfWeights): LayerInfo[] {
  const { vocabSize: V, hiddenSize: H, maxPositions: P, typeVocabSize: T, intermediateSize: I } = cfg;
  const linear = (inDim: number, outDim: number) => inDim * outDim + outDim;
  const layers: LayerInfo[] = [{ name: 'embeddings', className: BERT_LAYER_CLASSES.embeddings, inbound: [], params: (V + P + T) * H + 2 * H }];
  const block = 4 * linear(H, H) + linear(H, I) + linear(I, H) + 4 * H;
  for (let i = 0; i < cfg.numLayers; i++) {
    layers.push({ name: `${BLOCK_NAMING[cfg.naming].blocks}.${i}`, className: BERT_LAYER_CLASSES.block, inbound: [layers[layers.length - 1].name], params: block });
  }
  if (hasPooler(cfg, weights)) layers.push({ name: 'pooler', className: BERT_LAYER_CLASSES.pooler, inbound: [layers[layers.length - 1].name], params: linear(H, H) });
  return layers;
}
