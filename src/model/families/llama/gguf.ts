import { ModelError } from '../../../errors.ts';
import { dequantize } from '../../gguf/dequantize.ts';
import { meta, type GgufFile, type GgufTensorInfo } from '../../gguf/read.ts';
import type { HfWeights } from '../../hf/weights.ts';

/**
 * The shortest decimal that is the same float32 as x: GGUF stores float32 metadata, so its eps reads
 * back as 9.999999747378752e-6; as 1e-5 it is the same number to the float32 model and the value
 * a saved config.json should show.
 */
function float32Decimal(x: number): number {
  for (let p = 1; p < 10; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

/**
 * A llama-architecture GGUF read as a Hugging Face checkpoint: its metadata as a config.json
 * object, its tensors under HF names in HF layouts, dequantised to float32 on demand.
 */
export function ggufLlamaConfig(file: GgufFile): Record<string, unknown> {
  const arch = meta(file, 'general.architecture', 'string');
  if (arch !== 'llama') throw new ModelError(`${file.where}: general.architecture is "${arch}"; tunespec reads "llama" GGUF files`, file.where);
  const n = (key: string) => meta(file, `llama.${key}`, 'number');
  const opt = (key: string) => meta(file, `llama.${key}`, 'number', true);
  const hidden = n('embedding_length');
  const heads = n('attention.head_count');
  const headDim = opt('attention.key_length') ?? hidden / heads;
  const rotary = opt('rope.dimension_count');
  if (rotary !== undefined && rotary !== headDim) throw new ModelError(`${file.where}: llama.rope.dimension_count ${rotary} differs from the head size ${headDim} (partial rotary embeddings are not supported)`, file.where);
  const scaling = meta(file, 'llama.rope.scaling.type', 'string', true);
  const tokens = meta(file, 'tokenizer.ggml.tokens', 'array', true);
  const token = (key: string) => meta(file, `tokenizer.ggml.${key}`, 'number', true) ?? null;
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: opt('vocab_size') ?? tokens?.length ?? file.tensors.get('token_embd.weight')?.shape[0],
    hidden_size: hidden,
    intermediate_size: n('feed_forward_length'),
    num_hidden_layers: n('block_count'),
    num_attention_heads: heads,
    num_key_value_heads: opt('attention.head_count_kv') ?? heads,
    head_dim: headDim,
    hidden_act: 'silu',
    max_position_embeddings: opt('context_length') ?? 2048,
    rms_norm_eps: float32Decimal(n('attention.layer_norm_rms_epsilon')),
    rope_theta: float32Decimal(opt('rope.freq_base') ?? 10000),
    rope_scaling: scaling && scaling !== 'none' ? { rope_type: scaling } : null,
    tie_word_embeddings: !file.tensors.has('output.weight'),
    bos_token_id: token('bos_token_id'),
    eos_token_id: token('eos_token_id'),
    pad_token_id: token('padding_token_id'),
    torch_dtype: 'float32',
  };
}

const TOP: Record<string, string> = { 'token_embd.weight': 'model.embed_tokens.weight', 'output_norm.weight': 'model.norm.weight', 'output.weight': 'lm_head.weight' };
const BLOCK: Record<string, string> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

/** The HF name of a GGUF tensor name, or the GGUF name itself when it has none (reported unused). */
export function hfNameOf(gguf: string): string {
  if (TOP[gguf]) return TOP[gguf];
  const m = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(gguf);
  return m && BLOCK[m[2]] ? `model.layers.${m[1]}.${BLOCK[m[2]]}.${m[3]}` : gguf;
}

/**
 * llama.cpp's converter permutes q_proj and k_proj rows so each head's rotary pairs sit side by
 * side (interleaved RoPE); Hugging Face pairs dimension i with i + d/2 (rotate-half). This puts the
 * rows back: GGUF row h·d + 2i + j holds HF row h·d + j·d/2 + i.
 */
export function unpermuteRows(values: Float32Array, heads: number, rows: number, cols: number): Float32Array {
  const d = rows / heads;
  const out = new Float32Array(values.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < d / 2; i++)
      for (let j = 0; j < 2; j++) {
        const from = (h * d + 2 * i + j) * cols;
        out.set(values.subarray(from, from + cols), (h * d + j * (d / 2) + i) * cols);
      }
  return out;
}

export function ggufLlamaWeights(file: GgufFile, config: Record<string, unknown>): HfWeights {
  const byHf = new Map<string, GgufTensorInfo>();
  for (const info of file.tensors.values()) byHf.set(hfNameOf(info.name), info);
  const heads = (name: string): number | undefined =>
    name.endsWith('self_attn.q_proj.weight') ? (config.num_attention_heads as number) : name.endsWith('self_attn.k_proj.weight') ? (config.num_key_value_heads as number) : undefined;
  return {
    where: file.where,
    names: () => [...byHf.keys()],
    entry: (name) => {
      const info = byHf.get(name);
      return info && { name, dtype: 'F32', shape: info.shape, begin: info.begin, end: info.end };
    },
    values: (name) => {
      const info = byHf.get(name);
      if (!info) throw new ModelError(`${file.where} has no tensor for "${name}"`, file.where);
      const values = dequantize(file, info);
      const h = heads(name);
      return { dtype: 'F32', shape: info.shape, values: h ? unpermuteRows(values, h, info.shape[0], info.shape[1]) : values };
    },
  };
}
