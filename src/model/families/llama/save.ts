import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { InternalError } from '../../../errors.ts';
import { encodeSafetensors } from '../../hf/safetensors-write.ts';
import type { LlamaConfig } from './config.ts';
import { hasLora } from './lora.ts';
import { exportLlamaWeights } from './weights.ts';

/** config.json as transformers' LlamaConfig writes it, for a model built from `cfg`. */
export function llamaConfigJson(cfg: LlamaConfig): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads,
    head_dim: cfg.headDim,
    hidden_act: 'silu',
    max_position_embeddings: cfg.maxPositions,
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling: null,
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenId,
    torch_dtype: 'float32',
  };
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/**
 * Write a Llama model as a Hugging Face folder (config.json, model.safetensors, tokenizer.json,
 * tokenizer_config.json with its chat template, generation_config.json) that transformers,
 * llama.cpp's converter and `loadLlama` read. Whatever the source was (a .gguf included), the
 * weights are float32 under HF names and layouts. Written to a temporary folder and renamed.
 */
export async function saveLlamaFolder(
  model: TF.LayersModel,
  cfg: LlamaConfig,
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
  outDir: string,
): Promise<void> {
  // LoRA weights have no place in a plain Llama checkpoint: merge them first (mergeLora).
  if (hasLora(model)) throw new InternalError('saveLlamaFolder was given a model with unmerged LoRA weights');
  const tmp = `${outDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, 'model.safetensors'), encodeSafetensors(exportLlamaWeights(model), { format: 'pt' }));
  await writeFile(join(tmp, 'config.json'), json(llamaConfigJson(cfg)));
  await writeFile(join(tmp, 'generation_config.json'), json({ bos_token_id: cfg.bosTokenId, eos_token_id: cfg.eosTokenId }));
  await writeFile(join(tmp, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await writeFile(join(tmp, 'tokenizer_config.json'), json(tokenizerConfig));
  await rm(outDir, { recursive: true, force: true });
  await rename(tmp, outDir);
}
