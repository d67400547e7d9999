import { basename } from 'node:path';
import { redactUrl } from '../net/redact.ts';

/**
 * How fine-tuned models are named, the way hosted services print FINE_TUNED_MODEL:
 * `ft:<base-name>:<experiment>:<variant-id>`. The base name is what a user calls the base: a GGUF
 * file's stem without its quantisation tag (`SmolLM2-135M-Instruct.Q4_1.gguf` → SmolLM2-135M-Instruct),
 * a folder's name, or an hf:// repository's name.
 */

/** Quantisation tags llama.cpp tools put at the end of a GGUF file's stem (.Q4_1, -Q8_0, .F16, .IQ3_XS, .BF16, -q4_k_m). */
const QUANT_TAG = /[.-](?:I?Q\d+(?:_[0-9A-Z]+)*|F16|F32|BF16)$/i;

export function baseModelName(source: string): string {
  const hub = /^hf:\/\/([^@?#]+)/i.exec(source);
  if (hub) return hub[1].replace(/\/+$/, '').split('/').pop()!;
  const path = (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) ? redactUrl(source) : source).replace(/[?#].*$/s, '').replace(/\/+$/, '');
  const last = basename(path);
  if (/\.gguf$/i.test(last)) return last.replace(/\.gguf$/i, '').replace(QUANT_TAG, '');
  return last;
}

export function fineTunedModelName(baseName: string, experiment: string, variantId: string): string {
  return `ft:${baseName}:${experiment}:${variantId}`;
}
