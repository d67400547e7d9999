import type { Converter } from './converter.ts';
import { linear } from './transformer-ops.ts';

/** TunespecBertPooler: tanh(dense(first token's hidden state)). */
export const bertPooler: Converter = (c) => {
  const { b, layer } = c;
  const first = b.op('Gather', [c.inputs[0], b.scalarInt(`${layer.name}.first_token`, 0)], `${layer.name}.first_token_state`, { axis: 1 });
  return b.op('Tanh', [linear(b, first, layer, 'dense')], layer.name);
};
