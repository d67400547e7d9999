import type { BaseModel } from '../source.ts';
import { hfFamily } from './hf.ts';
import { llamaDecoderFamily } from './llama-decoder.ts';
import { onnxFamily } from './onnx.ts';
import { tfjsLayersFamily } from './tfjs-layers.ts';
import type { ModelFamily } from './types.ts';

type Families = { [F in BaseModel['format']]: ModelFamily<Extract<BaseModel, { format: F }>> };

/** Every model family by format. A new family is one entry here (and its module). */
export const FAMILIES: Families = {
  tfjs: tfjsLayersFamily,
  onnx: onnxFamily,
  hf: hfFamily,
  llama: llamaDecoderFamily,
};

/** What a source is when no family claims it by name: a model.json path or URL. */
const DEFAULT_FAMILY: BaseModel['format'] = 'tfjs';

/** The family whose files a `base_model.source` names. */
export function familyFor(source: string): ModelFamily {
  const claimed = Object.values(FAMILIES).find((f) => f.claims?.(source));
  return (claimed ?? FAMILIES[DEFAULT_FAMILY]) as ModelFamily;
}

/** The family of a base model already read. */
export function familyOf(base: BaseModel): ModelFamily {
  return FAMILIES[base.format] as ModelFamily;
}
