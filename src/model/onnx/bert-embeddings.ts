import type { Converter } from './converter.ts';
import { hfWeight, layerNorm } from './transformer-ops.ts';

/**
 * TunespecBertEmbeddings over [input_ids, token_type_ids] (or input_ids alone: RoBERTa, DistilBERT):
 * word + position (+ token type) embeddings, then LayerNorm. Positions are `tokens` rows of the
 * position table from `positionOffset` on (RoBERTa's padding_idx + 1), `tokens` read from the ids'
 * shape so one graph serves any sequence length. Without token_type_ids, a type table's row 0 is
 * added to every token, as RobertaModel does.
 */
export const bertEmbeddings: Converter = (c) => {
  const { b, layer } = c;
  const n = layer.name;
  const [ids, types] = c.inputs;
  const offset = c.config.positionOffset ?? 0;
  const words = b.op('Gather', [hfWeight(b, layer, 'word_embeddings.weight'), ids], `${n}.word_embeddings`, { axis: 0 });
  const tokens = b.op('Gather', [b.op('Shape', [ids], `${n}.ids_shape`), b.ints(`${n}.tokens_axis`, [1])], `${n}.tokens`, { axis: 0 });
  const first = b.ints(`${n}.first_position`, [offset]);
  const end = offset ? b.op('Add', [tokens, first], `${n}.last_position`) : tokens;
  const table = hfWeight(b, layer, 'position_embeddings.weight');
  const positions = b.op('Slice', [table, first, end, b.ints(`${n}.position_axis`, [0])], `${n}.position_embeddings`);
  let sum = b.op('Add', [words, positions], `${n}.words_positions`);
  if (c.config.typeVocabSize > 0) {
    const typeTable = hfWeight(b, layer, 'token_type_embeddings.weight');
    const typeEmb = types
      ? b.op('Gather', [typeTable, types], `${n}.token_type_embeddings`, { axis: 0 })
      : b.op('Gather', [typeTable, b.scalarInt(`${n}.type_zero`, 0)], `${n}.token_type_embeddings`, { axis: 0 });
    sum = b.op('Add', [sum, typeEmb], `${n}.sum`);
  }
  return layerNorm(b, sum, layer, 'LayerNorm', c.config.layerNormEps);
};
