import type * as TF from '@tensorflow/tfjs';
import { exportGraph, type GraphEnd, type OnnxGraphExport } from './export.ts';

// The ONNX exports of a text model (an encoder from model/families, maybe with a head): what a
// variant ships as model.onnx and what the feature cache runs its frozen prefix with.

/** The graph output of a full text model: class probabilities, as the image exports name theirs. */
export const TEXT_OUTPUT = 'output';
/** The graph output of a prefix: hidden states [batch, tokens, hidden] at the boundary. */
export const PREFIX_OUTPUT = 'hidden_states';
/** A segment's hidden-states input, when it starts at a cached boundary. */
export const PREFIX_INPUT = 'boundary_hidden_states';

/** The model's inputs under their own names: input_ids, attention_mask and, where the model has one, token_type_ids. */
function modelInputs(model: TF.LayersModel): GraphEnd[] {
  return model.inputs.map((tensor) => ({ tensor, name: tensor.sourceLayer.name }));
}

function attentionMask(model: TF.LayersModel): TF.SymbolicTensor {
  const mask = model.inputs.find((t) => t.sourceLayer.name === 'attention_mask');
  if (!mask) throw new Error(`the model has no attention_mask input (inputs: ${model.inputs.map((t) => t.sourceLayer.name).join(', ')})`);
  return mask;
}

/**
 * The whole model (inputs as the tokenizer names them, int64 [batch, tokens]) to its first output,
 * named "output". Throws UnsupportedLayerError naming a layer with no converter.
 */
export function exportTextModel(model: TF.LayersModel, opts: { metadata?: Record<string, string> } = {}): OnnxGraphExport {
  return exportGraph(modelInputs(model), [{ tensor: model.outputs[0], name: TEXT_OUTPUT }], opts.metadata);
}

/**
 * The frozen prefix up to `to` (a block's output, [batch, tokens, hidden]), named "hidden_states".
 * From the model's inputs by default; with `from` (a shallower boundary whose features are cached)
 * the graph takes "boundary_hidden_states" and "attention_mask" instead and runs only the blocks
 * between the two.
 */
export function exportTextPrefix(model: TF.LayersModel, to: TF.SymbolicTensor, opts: { from?: TF.SymbolicTensor } = {}): OnnxGraphExport {
  const inputs = opts.from ? [{ tensor: opts.from, name: PREFIX_INPUT }, { tensor: attentionMask(model), name: 'attention_mask' }] : modelInputs(model);
  return exportGraph(inputs, [{ tensor: to, name: PREFIX_OUTPUT }]);
}
