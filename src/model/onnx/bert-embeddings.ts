import type { Converter } from './converter.ts';
import { hfWeight, layerNorm } from './transformer-ops.ts';

/**
 * TunespecBertEmbeddings over [input_ids, token_type_ids]: word + position + token type embeddings,
 * then LayerNorm. Positions are the first `tokens` rows of the position table, `tokens` read from
 * the ids' shape so one graph serves any sequence length.
 */
export const bertEmbeddings: Converter = (c) => {
  const { b, layer } = c;
  const n = layer.name;
  const [ids, types] = c.inputs;
  const words = b.op('Gather', [hfWeight(b, layer, 'word_embeddings.weight'), ids], `${n}.word_embeddings`, { axis: 0 });
  const tokens = b.op('Gather', [b.op('Shape', [ids], `${n}.ids_shape`), b.ints(`${n}.tokens_axis`, [1])], `${n}.tokens`, { axis: 0 });
  const table = hfWeight(b, layer, 'position_embeddings.weight');
  const positions = b.op('Slice', [table, b.ints(`${n}.first_position`, [0]), tokens, b.ints(`${n}.position_axis`, [0])], `${n}.position_embeddings`);
  const typeEmb = b.op('Gather', [hfWeight(b, layer, 'token_type_embeddings.weight'), types], `${n}.token_type_embeddings`, { axis: 0 });
  const sum = b.op('Add', [b.op('Add', [words, positions], `${n}.words_positions`), typeEmb], `${n}.sum`);
  return layerNorm(b, sum, layer, 'LayerNorm', c.config.layerNormEps);
};
