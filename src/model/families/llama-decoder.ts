import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ModelError } from '../../errors.ts';
import { readGguf } from '../gguf/read.ts';
import { readConfigJson } from '../hf/encoder.ts';
import { resolveHfFolder } from '../hf/folder.ts';
import type { BaseModel, ModelLocation } from '../source.ts';
import type { LayerInfo } from '../topology.ts';
import { ggufLlamaConfig } from './llama/gguf.ts';
import { loadLlama } from './llama/load.ts';
import { LLAMA_MODEL_TYPES, readLlamaConfig, type LlamaConfig } from './llama/config.ts';
import type { ModelFamily } from './types.ts';
import { resolveFreezeRanges } from '../../spec/layer-refs.ts';
import type { Experiment } from '../../spec/types.ts';

export type LlamaBase = Extract<BaseModel, { format: 'llama' }>;

/** A `.gguf` file by name (before any query): llama.cpp's format, read by the Llama family. */
export function isGgufSource(source: string): boolean {
  return /\.gguf([?#].*)?$/i.test(source);
}

/** The layer classes buildLlama makes, by what they are: the names `plan` and `inspect` show. */
const CLASS = { embed: 'TunespecLlamaEmbedding', block: 'TunespecLlamaDecoderLayer', norm: 'TunespecLlamaRMSNorm', head: 'TunespecLlamaLmHead' };

/**
 * The decoder's layers as buildLlama names them (`model.embed_tokens`, `model.layers.N`,
 * `model.norm`, `lm_head`) with their parameter counts, from the config alone: what freeze ranges,
 * lora.layers and plans read without loading 135M weights into tfjs.
 */
export function llamaLayers(cfg: LlamaConfig): LayerInfo[] {
  const H = cfg.hiddenSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  const block = 2 * H + H * q + 2 * H * kv + q * H + 3 * H * cfg.intermediateSize;
  const names = ['model.embed_tokens', ...Array.from({ length: cfg.numLayers }, (_, i) => `model.layers.${i}`), 'model.norm', 'lm_head'];
  return names.map((name, i) => ({
    name,
    className: i === 0 ? CLASS.embed : name === 'model.norm' ? CLASS.norm : name === 'lm_head' ? CLASS.head : CLASS.block,
    inbound: i === 0 ? [] : [names[i - 1]],
    params: i === 0 ? cfg.vocabSize * H : name === 'model.norm' ? H : name === 'lm_head' ? (cfg.tieWordEmbeddings ? 0 : cfg.vocabSize * H) : block,
  }));
}

async function fileDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function loadGgufBase(path: string): Promise<{ base: LlamaBase; layers: LayerInfo[] }> {
  if (!(await stat(path).then((s) => s.isFile(), () => false))) throw new ModelError(`no such file: ${path}`, path);
  const file = await readGguf(path);
  const config = readLlamaConfig(ggufLlamaConfig(file), path);
  return { base: { format: 'llama', path, source: path, files: { [basename(path)]: await fileDigest(path) }, config }, layers: llamaLayers(config) };
}

/**
 * A Llama decoder for `task: generation`: a llama-architecture `.gguf` file, or a Hugging Face
 * model folder (local, file://, http(s) or hf://) whose config.json says model_type llama. Its
 * identity is its files' digests, as for an encoder folder.
 */
export const llamaDecoderFamily: ModelFamily<LlamaBase> = {
  format: 'llama',
  claims: isGgufSource,
  async load(location: ModelLocation) {
    if (location.kind === 'file' && isGgufSource(location.path)) return loadGgufBase(location.path);
    if (location.kind === 'url' && isGgufSource(location.url)) {
      throw new ModelError('a .gguf base is read from a local file; download it first (or give a Hugging Face folder or hf:// repository)');
    }
    const resolved = await resolveHfFolder(location.kind === 'url' ? location.url : location.path, '/', { env: process.env });
    const { json, where } = await readConfigJson(resolved.folder);
    if (!LLAMA_MODEL_TYPES.includes(String(json.model_type))) {
      throw new ModelError(`${where}: model_type ${JSON.stringify(json.model_type)} is not a Llama decoder; task: generation fine-tunes Llama models (model_type llama, or a .gguf file)`, where);
    }
    const config = readLlamaConfig(json, where);
    return { base: { format: 'llama', path: resolved.folder, source: resolved.source, files: resolved.files, config }, layers: llamaLayers(config) };
  },
  async build(tf, { base }, _cutIndex, spec) {
    const { model } = await loadLlama(tf, base.path);
    const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
    const frozen = decoderFrozen(layers, spec);
    layers.forEach((l, i) => (l.trainable = !frozen[i]));
    return {
      built: { model, layers, frozen },
      dispose: async () => {
        model.dispose();
      },
    };
  },
};

/**
 * Which of the decoder's layers a generation spec freezes: its `freeze` ranges when it has any;
 * else, with `lora`, every one (only the adapters train, PEFT's default); else none. Ranges that
 * name no layer are the semantic checks' to report; here they freeze nothing.
 */
export function decoderFrozen(layers: readonly { name: string }[], spec: Pick<Experiment, 'freeze' | 'lora'>): boolean[] {
  if (spec.freeze.length) return resolveFreezeRanges(layers, spec.freeze).frozen;
  return layers.map(() => spec.lora !== undefined);
}

/** Input and output sizes of each projection LoRA can adapt. */
function projectionSizes(cfg: LlamaConfig): Record<string, [number, number]> {
  const H = cfg.hiddenSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  const I = cfg.intermediateSize;
  return { q_proj: [H, q], k_proj: [H, kv], v_proj: [H, kv], o_proj: [q, H], gate_proj: [H, I], up_proj: [H, I], down_proj: [I, H] };
}

/** Weights LoRA adds to one block: rank × (in + out) per adapted projection (A is [in, r], B [r, out]). */
export function loraParamsPerBlock(cfg: LlamaConfig, lora: { rank: number; target_modules: readonly string[] }): number {
  const sizes = projectionSizes(cfg);
  return lora.target_modules.reduce((n, t) => n + lora.rank * (sizes[t][0] + sizes[t][1]), 0);
}
