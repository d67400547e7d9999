import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelError } from '../../errors.ts';
import { parseSafetensors, tensorValues, type SafetensorsFile, type TensorEntry, type TensorValues } from './safetensors.ts';

/** Every tensor of a Hugging Face folder's weights, whether in one model.safetensors or sharded. */
export interface HfWeights {
  /** What messages call the weights: the file, or the index for sharded weights. */
  where: string;
  names(): string[];
  entry(name: string): TensorEntry | undefined;
  values(name: string): TensorValues;
}

export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX = 'model.safetensors.index.json';

async function readOrNull(path: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ModelError(`cannot read ${path}: ${(err as Error).message}`, path);
  }
}

function fromFiles(where: string, owner: Map<string, SafetensorsFile>): HfWeights {
  return {
    where,
    names: () => [...owner.keys()],
    entry: (name) => owner.get(name)?.entries.get(name),
    values: (name) => {
      const file = owner.get(name);
      if (!file) throw new ModelError(`${where} has no tensor "${name}"`, where);
      return tensorValues(file, name);
    },
  };
}

/** The weights of a local Hugging Face model folder: model.safetensors, else the shards its index names. */
export async function readHfWeights(folder: string): Promise<HfWeights> {
  const single = join(folder, WEIGHTS_FILE);
  const bytes = await readOrNull(single);
  if (bytes) {
    const file = parseSafetensors(bytes, single);
    return fromFiles(single, new Map([...file.entries.keys()].map((n) => [n, file])));
  }
  const indexPath = join(folder, WEIGHTS_INDEX);
  const indexBytes = await readOrNull(indexPath);
  if (!indexBytes) throw new ModelError(`${folder} has neither ${WEIGHTS_FILE} nor ${WEIGHTS_INDEX}`, folder);
  let map: Record<string, unknown>;
  try {
    map = JSON.parse(new TextDecoder().decode(indexBytes)).weight_map;
  } catch (err) {
    throw new ModelError(`${indexPath} is not JSON: ${(err as Error).message}`, indexPath);
  }
  if (!map || typeof map !== 'object') throw new ModelError(`${indexPath} has no weight_map object`, indexPath);
  const shards = new Map<string, SafetensorsFile>();
  const owner = new Map<string, SafetensorsFile>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
      throw new ModelError(`${indexPath}: weight_map["${name}"] must name a file in the same folder; got ${JSON.stringify(shard)}`, indexPath);
    }
    let file = shards.get(shard);
    if (!file) {
      const shardBytes = await readOrNull(join(folder, shard));
      if (!shardBytes) throw new ModelError(`${indexPath} names shard ${shard}, which is not in ${folder}`, indexPath);
      file = parseSafetensors(shardBytes, join(folder, shard));
      shards.set(shard, file);
    }
    if (!file.entries.has(name)) throw new ModelError(`${indexPath} puts "${name}" in ${shard}, which has no such tensor`, indexPath);
    owner.set(name, file);
  }
  return fromFiles(indexPath, owner);
}
