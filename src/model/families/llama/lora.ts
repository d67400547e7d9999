import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import { InternalError, ModelError } from '../../../errors.ts';
import { transpose2d } from '../../hf/checkpoint.ts';
import { parseSafetensors, tensorValues } from '../../hf/safetensors.ts';
import { encodeSafetensors, type TensorToWrite } from '../../hf/safetensors-write.ts';
import type { LlamaBlockLayer } from './layers.ts';
import { PROJECTIONS, type Projection } from './ops.ts';

/**
 * LoRA (Hu et al. 2021) on a Llama decoder's projections, as Hugging Face PEFT does it: each
 * targeted projection W gains a branch x·A·B·(alpha/r) with A random and B zero, so the model
 * starts exactly as the base; only A and B train. Adapters are read and written in PEFT's layout.
 */
export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraSettings {
  rank: number;
  alpha: number;
  /** On each branch's input, while training only. */
  dropout: number;
  targetModules: readonly LoraTarget[];
  /** Block indices (model.layers.N). */
  blocks: readonly number[];
  /** Seeds A's initial values and the dropout masks. */
  seed: number;
}

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** PEFT's prefix for a causal LM's parameter names: PeftModel.base_model (LoraModel).model (LlamaForCausalLM). */
const PEFT_PREFIX = 'base_model.model.';

const projectionOf = (target: LoraTarget): Projection => target.replace(/_proj$/, '') as Projection;

/** The decoder blocks by index. */
function decoderBlocks(model: TF.LayersModel): LlamaBlockLayer[] {
  const blocks: LlamaBlockLayer[] = [];
  for (const layer of model.layers) {
    const m = /^model\.layers\.(\d+)$/.exec(layer.name);
    if (m) blocks[Number(m[1])] = layer as LlamaBlockLayer;
  }
  return blocks;
}

function checkSettings(s: LoraSettings, numBlocks: number): void {
  const issues: string[] = [];
  if (!Number.isInteger(s.rank) || s.rank < 1) issues.push(`rank must be a positive integer; got ${s.rank}`);
  if (!(s.alpha > 0)) issues.push(`alpha must be positive; got ${s.alpha}`);
  if (!(s.dropout >= 0 && s.dropout < 1)) issues.push(`dropout must be in [0, 1); got ${s.dropout}`);
  const unknown = s.targetModules.filter((t) => !LORA_TARGETS.includes(t));
  if (unknown.length) issues.push(`target_modules ${unknown.join(', ')} are not Llama projections (${LORA_TARGETS.join(', ')})`);
  if (!s.targetModules.length) issues.push('target_modules is empty');
  if (new Set(s.targetModules).size !== s.targetModules.length) issues.push(`target_modules repeats a module: ${s.targetModules.join(', ')}`);
  const outside = s.blocks.filter((b) => !Number.isInteger(b) || b < 0 || b >= numBlocks);
  if (outside.length) issues.push(`blocks ${outside.join(', ')} are not among the model's ${numBlocks} (0-${numBlocks - 1})`);
  if (!s.blocks.length) issues.push('no block is chosen');
  if (new Set(s.blocks).size !== s.blocks.length) issues.push(`blocks repeat: ${s.blocks.join(', ')}`);
  if (issues.length) throw new ModelError(`LoRA settings: ${issues.join('; ')}`);
}

/** A seed per module, so adding a target or a block leaves the others' initial values as they were. */
function moduleSeed(seed: number, block: number, target: Projection): number {
  let h = 2166136261 ^ seed;
  for (const c of `${block}.${target}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

/**
 * Adds LoRA weights to the chosen blocks of a built Llama model (A random as PEFT's kaiming-uniform,
 * B zero). After it, those blocks' LoRA weights are trainable and their base weights are not
 * (other layers' trainable flags untouched).
 */
export function applyLora(tf: Tf, model: TF.LayersModel, settings: LoraSettings): void {
  const blocks = decoderBlocks(model);
  checkSettings(settings, blocks.length);
  const held = settings.blocks.filter((i) => blocks[i].lora());
  if (held.length) throw new InternalError(`blocks ${held.join(', ')} already have LoRA weights`);
  const targets = settings.targetModules.map(projectionOf);
  for (const i of settings.blocks) {
    blocks[i].addLora({
      rank: settings.rank,
      scale: settings.alpha / settings.rank,
      dropout: settings.dropout,
      seed: settings.seed,
      targets,
      // PEFT: kaiming_uniform_(a=√5) over fan_in = in, i.e. U(-1/√in, 1/√in).
      initA: (target, [inDim, rank]) => tf.randomUniform([inDim, rank], -1 / Math.sqrt(inDim), 1 / Math.sqrt(inDim), 'float32', moduleSeed(settings.seed, i, target)),
    });
  }
}

/** Folds B·A·scale into the base weights (in place) and removes the LoRA weights: a plain Llama model. */
export function mergeLora(tf: Tf, model: TF.LayersModel): void {
  for (const block of decoderBlocks(model)) {
    const l = block?.lora();
    if (!l) continue;
    for (const [target, { a, b }] of l.branches) {
      const w = block.baseWeight(target);
      const merged = tf.tidy(() => tf.add(w.read(), tf.mul(tf.matMul(a.read(), b.read()), l.scale)));
      w.write(merged);
      merged.dispose();
    }
    block.dropLora();
  }
}

/** Whether any block carries LoRA weights (not merged yet). */
export function hasLora(model: TF.LayersModel): boolean {
  return decoderBlocks(model).some((b) => b?.lora());
}

const peftName = (block: number, target: Projection, part: 'lora_A' | 'lora_B') => `${PEFT_PREFIX}model.layers.${block}.${PROJECTIONS[target]}.${part}.weight`;

/** PEFT's adapter_config.json for these settings. */
export function adapterConfig(settings: LoraSettings, baseModelName: string): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModelName,
    r: settings.rank,
    lora_alpha: settings.alpha,
    lora_dropout: settings.dropout,
    target_modules: [...settings.targetModules],
    layers_to_transform: [...settings.blocks].sort((a, b) => a - b),
    layers_pattern: null,
    bias: 'none',
    fan_in_fan_out: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    rank_pattern: {},
    alpha_pattern: {},
    use_rslora: false,
    use_dora: false,
    revision: null,
  };
}

/**
 * PEFT layout: adapter_config.json + adapter_model.safetensors (names
 * `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` [r, in], `lora_B` [out, r]).
 * Written to a temporary folder and renamed, so a reader never sees half an adapter.
 */
export async function saveLoraAdapter(model: TF.LayersModel, settings: LoraSettings, baseModelName: string, outDir: string): Promise<void> {
  const blocks = decoderBlocks(model);
  const tensors: TensorToWrite[] = [];
  const withLora = blocks.flatMap((b, i) => (b?.lora() ? [i] : []));
  const want = [...settings.blocks].sort((a, b) => a - b);
  if (withLora.join() !== want.join()) throw new InternalError(`the model has LoRA weights on blocks [${withLora.join(', ')}], the settings say [${want.join(', ')}]`);
  for (const i of want) {
    const l = blocks[i].lora()!;
    const targets = settings.targetModules.map(projectionOf);
    if ([...l.branches.keys()].sort().join() !== [...targets].sort().join()) throw new InternalError(`block ${i} has LoRA on ${[...l.branches.keys()].join(', ')}, the settings say ${targets.join(', ')}`);
    for (const target of targets) {
      const { a, b } = l.branches.get(target)!;
      const [inDim, r] = a.shape as number[];
      const outDim = b.shape[1] as number;
      tensors.push(
        { name: peftName(i, target, 'lora_A'), dtype: 'F32', shape: [r, inDim], values: transpose2d(a.read().dataSync() as Float32Array, inDim, r) },
        { name: peftName(i, target, 'lora_B'), dtype: 'F32', shape: [outDim, r], values: transpose2d(b.read().dataSync() as Float32Array, r, outDim) },
      );
    }
  }
  const tmp = `${outDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, ADAPTER_WEIGHTS), encodeSafetensors(tensors, { format: 'pt' }));
  await writeFile(join(tmp, ADAPTER_CONFIG), `${JSON.stringify(adapterConfig(settings, baseModelName), null, 2)}\n`);
  await rm(outDir, { recursive: true, force: true });
  await rename(tmp, outDir);
}

/** The settings a PEFT adapter_config.json describes, refusing what tunespec's LoRA does not do. */
function settingsFromConfig(json: Record<string, unknown>, numBlocks: number, where: string): LoraSettings {
  const issues: string[] = [];
  if (json.peft_type !== 'LORA') issues.push(`peft_type is ${JSON.stringify(json.peft_type)}, not "LORA"`);
  if (json.use_rslora === true) issues.push('use_rslora is not supported');
  if (json.use_dora === true) issues.push('use_dora is not supported');
  if (json.fan_in_fan_out === true) issues.push('fan_in_fan_out is not supported');
  if ((json.bias ?? 'none') !== 'none') issues.push(`bias "${json.bias}" is not supported (only "none")`);
  for (const key of ['rank_pattern', 'alpha_pattern'] as const) {
    const v = json[key];
    if (v && typeof v === 'object' && Object.keys(v).length) issues.push(`${key} is not supported`);
  }
  if (!Array.isArray(json.target_modules)) issues.push(`target_modules must be a list of module names; got ${JSON.stringify(json.target_modules)}`);
  let blocks = Array.from({ length: numBlocks }, (_, i) => i);
  const layers = json.layers_to_transform;
  if (typeof layers === 'number') blocks = [layers];
  else if (Array.isArray(layers)) blocks = layers as number[];
  else if (layers !== null && layers !== undefined) issues.push(`layers_to_transform must be a list of block numbers; got ${JSON.stringify(layers)}`);
  if (issues.length) throw new ModelError(`${where}: ${issues.join('; ')}`, where);
  return {
    rank: json.r as number,
    alpha: (json.lora_alpha ?? 8) as number,
    dropout: (json.lora_dropout ?? 0) as number,
    targetModules: json.target_modules as LoraTarget[],
    blocks,
    seed: 0,
  };
}

/** Reads a PEFT LoRA adapter folder into a model (adds its LoRA weights); returns its settings. */
export async function loadLoraAdapter(tf: Tf, model: TF.LayersModel, dir: string): Promise<LoraSettings> {
  const configPath = join(dir, ADAPTER_CONFIG);
  const weightsPath = join(dir, ADAPTER_WEIGHTS);
  let json: Record<string, unknown>;
  let bytes: Uint8Array;
  try {
    json = JSON.parse(await readFile(configPath, 'utf8'));
    bytes = new Uint8Array(await readFile(weightsPath));
  } catch (err) {
    throw new ModelError(`cannot read the LoRA adapter in ${dir}: ${(err as Error).message}`, dir);
  }
  const blocks = decoderBlocks(model);
  const settings = settingsFromConfig(json, blocks.length, configPath);
  try {
    checkSettings(settings, blocks.length);
  } catch (err) {
    throw new ModelError(`${configPath}: ${(err as Error).message}`, configPath);
  }
  const file = parseSafetensors(bytes, weightsPath);
  const issues: string[] = [];
  const values: { v: TF.LayerVariable; data: Float32Array }[] = [];
  const used = new Set<string>();
  applyLora(tf, model, settings);
  for (const i of settings.blocks) {
    for (const [target, { a, b }] of blocks[i].lora()!.branches) {
      for (const [part, v] of [['lora_A', a], ['lora_B', b]] as const) {
        const name = peftName(i, target, part);
        const entry = file.entries.get(name);
        // PEFT's [r, in] and [out, r] are the transposes of the stored A [in, r] and B [r, out].
        const want = [...v.shape].reverse() as number[];
        if (!entry) issues.push(`"${name}" is missing`);
        else if (entry.shape.join() !== want.join()) issues.push(`"${name}" has shape [${entry.shape.join(', ')}]; the model and r = ${settings.rank} need [${want.join(', ')}]`);
        else {
          used.add(name);
          values.push({ v, data: transpose2d(tensorValues(file, name).values as Float32Array, want[0], want[1]) });
        }
      }
    }
  }
  const extra = [...file.entries.keys()].filter((n) => !used.has(n));
  if (extra.length) issues.push(`tensors outside the configured LoRA modules: ${extra.slice(0, 4).join(', ')}${extra.length > 4 ? ` and ${extra.length - 4} more` : ''}`);
  if (issues.length) {
    dropAddedLora(model, settings.blocks);
    throw new ModelError(`${weightsPath} does not fit ${ADAPTER_CONFIG}: ${issues.slice(0, 8).join('; ')}`, weightsPath);
  }
  for (const { v, data } of values) {
    const t = tf.tensor(data, v.shape as number[], 'float32');
    v.write(t);
    t.dispose();
  }
  return settings;
}

/** Takes back the LoRA weights just added, leaving the model as it was. */
function dropAddedLora(model: TF.LayersModel, blocks: readonly number[]): void {
  const all = decoderBlocks(model);
  for (const i of blocks) all[i].dropLora();
}
