/**
 * The Hugging Face module names of an encoder block, by checkpoint family. BERT, RoBERTa and
 * DistilBERT blocks compute the same thing (post-LayerNorm self-attention, then a GELU
 * feed-forward); they differ only in what the checkpoint calls each part, so one tfjs layer and
 * one ONNX converter serve all three, named from this table.
 */
export interface BlockNaming {
  /** The blocks' module path: `encoder.layer` (block i is `encoder.layer.i`). */
  blocks: string;
  query: string;
  key: string;
  value: string;
  attentionOutput: string;
  attentionNorm: string;
  intermediate: string;
  output: string;
  outputNorm: string;
}

export const BLOCK_NAMING = {
  bert: {
    blocks: 'encoder.layer',
    query: 'attention.self.query',
    key: 'attention.self.key',
    value: 'attention.self.value',
    attentionOutput: 'attention.output.dense',
    attentionNorm: 'attention.output.LayerNorm',
    intermediate: 'intermediate.dense',
    output: 'output.dense',
    outputNorm: 'output.LayerNorm',
  },
  distilbert: {
    blocks: 'transformer.layer',
    query: 'attention.q_lin',
    key: 'attention.k_lin',
    value: 'attention.v_lin',
    attentionOutput: 'attention.out_lin',
    attentionNorm: 'sa_layer_norm',
    intermediate: 'ffn.lin1',
    output: 'ffn.lin2',
    outputNorm: 'output_layer_norm',
  },
} as const satisfies Record<string, BlockNaming>;

export type NamingStyle = keyof typeof BLOCK_NAMING;

/** A layer's naming, from its serialised config: layers saved before there was a choice are BERT's. */
export function blockNaming(style: unknown): BlockNaming {
  return BLOCK_NAMING[(style as NamingStyle) ?? 'bert'] ?? BLOCK_NAMING.bert;
}

/** nn.Linear weights of every naming: stored [out, in] by PyTorch and [in, out] here (see ops.ts). */
export const LINEAR_WEIGHT = /(query|key|value|dense|q_lin|k_lin|v_lin|out_lin|lin1|lin2)\.weight$/;
