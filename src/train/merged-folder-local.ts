import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { LlamaConfig } from '../model/families/llama/config.ts';
import { exportLlamaWeights } from '../model/families/llama/weights.ts';
import { encodeSafetensors } from '../model/hf/safetensors-write.ts';

// TEMPORARY: a stand-in for gen-lora's `saveLlamaFolder` (src/model/families/llama/save.ts), with
// its signature, built on the existing exportLlamaWeights and safetensors writer, so that
// generation variants leave a loadable merged/ folder before the branches merge. The lead swaps
// the import in causal-variant.ts for gen-lora's at merge and deletes this file.

/** config.json as transformers' LlamaConfig reads it, from the config tunespec loaded. */
function llamaConfigJson(cfg: LlamaConfig): Record<string, unknown> {
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

/** A Llama model as a Hugging Face folder (config, safetensors, tokenizer), written to a temporary folder and renamed into place. */
export async function saveLlamaFolder(model: TF.LayersModel, cfg: LlamaConfig, tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>, outDir: string): Promise<void> {
  const tmp = `${outDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  await writeFile(join(tmp, 'model.safetensors'), encodeSafetensors(exportLlamaWeights(model), { format: 'pt' }));
  await writeFile(join(tmp, 'config.json'), json(llamaConfigJson(cfg)));
  await writeFile(join(tmp, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await writeFile(join(tmp, 'tokenizer_config.json'), json(tokenizerConfig));
  await writeFile(join(tmp, 'generation_config.json'), json({ bos_token_id: cfg.bosTokenId, eos_token_id: cfg.eosTokenId }));
  await rm(outDir, { recursive: true, force: true });
  await rename(tmp, outDir);
}
