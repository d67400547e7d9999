import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { HfEncoderFamily } from './family.ts';
import { encodeSafetensors } from './safetensors-write.ts';

/** Tokenizer and config files copied from the source folder when it has them. */
const CARRIED = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

/**
 * Write an encoder as a Hugging Face model folder: its weights as model.safetensors under HF names
 * and layouts, with the source folder's config and tokenizer files beside them, so transformers,
 * sentence-transformers or tunespec itself can load it. Written to a temporary folder and renamed.
 */
export async function saveHfFolder(model: TF.LayersModel, family: HfEncoderFamily<any>, sourceFolder: string, outDir: string): Promise<string[]> {
  const tmp = `${outDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const written = ['model.safetensors'];
  await writeFile(join(tmp, 'model.safetensors'), encodeSafetensors(family.exportWeights(model), { format: 'pt' }));
  for (const f of CARRIED) {
    const ok = await readFile(join(sourceFolder, f)).then(() => true, () => false);
    if (!ok) continue;
    await copyFile(join(sourceFolder, f), join(tmp, f));
    written.push(f);
  }
  await rm(outDir, { recursive: true, force: true });
  await rename(tmp, outDir);
  return written.sort();
}
