import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What a Hugging Face folder's tokenizer is made of; tokenizer.json is required, the rest optional. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

/** The tokenizer files of a model folder, by name: kept beside a trained variant so it tokenizes as it trained. */
export async function tokenizerFiles(folder: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const name of TOKENIZER_FILES) {
    const bytes = await readFile(join(folder, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && name !== 'tokenizer.json') return null;
      throw err;
    });
    if (bytes) files[name] = new Uint8Array(bytes);
  }
  return files;
}
