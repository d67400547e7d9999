import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import { ModelError } from '../../../errors.ts';
import { readGguf } from '../../gguf/read.ts';
import { ggufTokenizer } from '../../gguf/tokenizer.ts';
import { readConfigJson } from '../../hf/encoder.ts';
import { readHfWeights, type HfWeights } from '../../hf/weights.ts';
import { buildLlama } from './build.ts';
import { readLlamaConfig, type LlamaConfig } from './config.ts';
import { ggufLlamaConfig, ggufLlamaWeights } from './gguf.ts';
import { loadLlamaWeights } from './weights.ts';

export interface LoadedLlama {
  config: LlamaConfig;
  model: TF.LayersModel;
  /** Checkpoint tensors the model had no place for. */
  unused: string[];
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

async function readJson(path: string, optional: boolean): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ModelError(`cannot read ${path}: ${(err as Error).message}`, path);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelError(`${path} is not valid JSON: ${(err as Error).message}`, path);
  }
}

/** A Llama decoder and its tokenizer from a Hugging Face model folder or a llama-architecture .gguf file. */
export async function loadLlama(tf: Tf, source: string): Promise<LoadedLlama> {
  let config: LlamaConfig;
  let weights: HfWeights;
  let tokenizerJson: Record<string, unknown>;
  let tokenizerConfig: Record<string, unknown>;
  if (/\.gguf$/i.test(source)) {
    const file = await readGguf(source);
    const json = ggufLlamaConfig(file);
    config = readLlamaConfig(json, source);
    weights = ggufLlamaWeights(file, json);
    ({ tokenizerJson, tokenizerConfig } = ggufTokenizer(file));
  } else {
    const { json, where } = await readConfigJson(source);
    config = readLlamaConfig(json, where);
    weights = await readHfWeights(source);
    tokenizerJson = await readJson(join(source, 'tokenizer.json'), false);
    tokenizerConfig = await readJson(join(source, 'tokenizer_config.json'), true);
  }
  const model = buildLlama(tf, config, { randomInit: false });
  try {
    const { unused } = loadLlamaWeights(tf, model, config, weights);
    return { config, model, unused, tokenizerJson, tokenizerConfig };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
