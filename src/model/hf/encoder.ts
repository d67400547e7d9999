import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../engine/backends.ts';
import { ModelError } from '../../errors.ts';
import { bertFamily } from '../families/bert/index.ts';
import { distilbertFamily } from '../families/distilbert/index.ts';
import { robertaFamily } from '../families/roberta/index.ts';
import type { ClassifierFamily, HfEncoderFamily } from './family.ts';
import { readHfWeights } from './weights.ts';

/** Families by config.json model_type. */
const FAMILIES: ClassifierFamily<any>[] = [bertFamily, robertaFamily, distilbertFamily];

export function familyOf(modelType: unknown, where: string): ClassifierFamily<any> {
  const family = FAMILIES.find((f) => f.modelTypes.includes(String(modelType)));
  if (!family) {
    const known = FAMILIES.flatMap((f) => f.modelTypes).join(', ');
    throw new ModelError(`${where}: model_type ${JSON.stringify(modelType)} is not supported (supported: ${known})`, where);
  }
  return family;
}

export async function readConfigJson(folder: string): Promise<{ json: Record<string, unknown>; where: string }> {
  const where = join(folder, 'config.json');
  let text: string;
  try {
    text = await readFile(where, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelError(`${folder} is not a Hugging Face model folder: ${code === 'ENOENT' ? 'it has no config.json' : (err as Error).message}`, folder);
  }
  try {
    const json = JSON.parse(text);
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error('not a JSON object');
    return { json, where };
  } catch (err) {
    throw new ModelError(`${where} is not valid JSON: ${(err as Error).message}`, where);
  }
}

export interface HfEncoder {
  family: HfEncoderFamily<any>;
  config: unknown;
  model: TF.LayersModel;
  /** Checkpoint tensors the family had no place for (e.g. a masked-LM head). */
  unused: string[];
}

/** Build and load the encoder in a local Hugging Face model folder. */
export async function loadHfEncoder(tf: Tf, folder: string): Promise<HfEncoder> {
  const { json, where } = await readConfigJson(folder);
  const family = familyOf(json.model_type, where);
  const config = family.readConfig(json, where);
  const weights = await readHfWeights(folder);
  const model = family.build(tf, config, weights);
  try {
    const { unused } = family.loadWeights(tf, model, config, weights);
    return { family, config, model, unused };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
