import { createHash, type Hash } from 'node:crypto';
import { carriesSecrets, redactUrl, redactUrlsDeep } from '../net/redact.ts';
import type { BaseModel } from './source.ts';

/** Feed what a base model is into a hash: an ONNX graph's bytes, a LayersModel's topology and weights, or a model folder's file digests. */
export function hashBaseModel(h: Hash, base: BaseModel): Hash {
  if (base.format === 'onnx') return h.update(base.bytes);
  // Every file's sha256, the tokenizer's among them: a new tokenizer is a new base.
  if (base.format === 'hf' || base.format === 'llama') return h.update(JSON.stringify(Object.entries(base.files).sort()));
  return h.update(JSON.stringify(base.files.json.modelTopology)).update(new Uint8Array(base.files.weightData));
}

export function baseModelDigest(base: BaseModel): string {
  return hashBaseModel(createHash('sha256'), base).digest('hex');
}

/**
 * A raw spec as it may be recorded (run store, MLflow, the plan and its variant ids) and printed:
 * every URL without its secrets. A base model URL that lost its query no longer says which bytes
 * it served, so it gains the digest of the base as read, the way pip pins a URL (`#sha256=…`).
 */
export function recordableSpec(raw: Record<string, unknown>, base: BaseModel | undefined): Record<string, unknown> {
  const recorded = redactUrlsDeep(raw);
  const source = (raw.base_model as { source?: unknown } | undefined)?.source;
  if (typeof source === 'string' && /^https?:\/\//i.test(source) && carriesSecrets(source)) {
    const digest = base ? `#sha256=${baseModelDigest(base)}` : '';
    recorded.base_model = { ...(recorded.base_model as object), source: `${redactUrl(source)}${digest}` };
  }
  return recorded;
}
