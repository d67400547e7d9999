import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ModelError } from '../errors.ts';
import { HttpError, httpGet } from '../net/http-get.ts';
import { redactUrl } from '../net/redact.ts';
import type { LlamaConfig } from './families/llama/config.ts';

/**
 * Where a base model lives. Local paths and file:// URLs are read from disk; http(s) URLs are
 * fetched, with weight shards resolved relative to model.json as tfjs does.
 */
export type ModelLocation = { kind: 'file'; path: string } | { kind: 'url'; url: string };

export function resolveModelLocation(source: string, specDir: string): ModelLocation {
  if (/^(https?|hf):\/\//i.test(source)) return { kind: 'url', url: source };
  if (/^file:\/\//i.test(source)) return { kind: 'file', path: fileURLToPath(source) };
  return { kind: 'file', path: isAbsolute(source) ? source : resolve(specDir, source) };
}

/** The location as it may be printed: a URL without the secrets a signed one carries. */
export function describeLocation(loc: ModelLocation): string {
  return loc.kind === 'file' ? loc.path : redactUrl(loc.url);
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  try {
    return await httpGet(url);
  } catch (err) {
    if (err instanceof HttpError) throw new ModelError(err.message, redactUrl(url));
    throw err;
  }
}

export async function readBytes(loc: ModelLocation): Promise<Uint8Array> {
  if (loc.kind === 'url') return fetchBytes(loc.url);
  try {
    return new Uint8Array(await readFile(loc.path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelError(`cannot read ${loc.path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, loc.path);
  }
}

/**
 * A weight shard next to model.json. Over http, the shard takes model.json's query string when
 * it has none of its own, as tfjs's loader does: a token or signature granted for the model
 * usually covers its weights.
 */
function sibling(loc: ModelLocation, relative: string): ModelLocation {
  if (loc.kind === 'url') {
    const url = new URL(relative, loc.url);
    if (!url.search) url.search = new URL(loc.url).search;
    return { kind: 'url', url: url.toString() };
  }
  return { kind: 'file', path: resolve(dirname(loc.path), relative) };
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

/** model.json as tfjs writes it (format "layers-model"). */
export interface ModelJson {
  format?: string;
  modelTopology: any;
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
  userDefinedMetadata?: Record<string, unknown>;
}

export async function readModelJson(loc: ModelLocation): Promise<ModelJson> {
  const bytes = await readBytes(loc);
  let json: ModelJson;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    // V8 quotes the text around the fault ("root:x:0:0"...): a message names the file, never echoes its bytes.
    const reason = (err as Error).message.replace(/,? ".*"(\.\.\.)? is not valid JSON$/s, '');
    throw new ModelError(`${describeLocation(loc)} is not JSON: ${reason}`, describeLocation(loc));
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new ModelError(
      `${describeLocation(loc)} is not a TensorFlow.js LayersModel (model.json needs modelTopology and weightsManifest)`,
      describeLocation(loc),
    );
  }
  return json;
}

/** model.json plus every weight shard, concatenated in manifest order as tfjs expects. */
export interface ModelFiles {
  json: ModelJson;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
}

export async function readModelFiles(loc: ModelLocation): Promise<ModelFiles> {
  const json = await readModelJson(loc);
  const shards: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) shards.push(await readBytes(sibling(loc, p)));
  }
  const total = shards.reduce((n, s) => n + s.byteLength, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const s of shards) {
    weightData.set(s, offset);
    offset += s.byteLength;
  }
  return { json, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: weightData.buffer };
}

export function locationUrl(loc: ModelLocation): string {
  return loc.kind === 'url' ? loc.url : pathToFileURL(loc.path).toString();
}

/**
 * A base model as read: a tfjs LayersModel's files, an ONNX graph's bytes, or a Hugging Face
 * encoder folder (local, or fetched into the model cache) with the sha256 of each of its files.
 */
export type BaseModel =
  | { format: 'tfjs'; files: ModelFiles }
  | { format: 'onnx'; bytes: Uint8Array }
  | { format: 'hf'; folder: string; source: string; files: Record<string, string>; modelType: string; maxTokens?: number }
  /** A Llama decoder (task: generation): a local .gguf file or a model folder (`path`), its config read. */
  | { format: 'llama'; path: string; source: string; files: Record<string, string>; config: LlamaConfig };

/** A Hugging Face model folder by name: hf://, or a path or URL whose last segment names no model.json, .onnx or .gguf file. */
export function isHfFolderSource(source: string): boolean {
  if (/^hf:\/\//i.test(source)) return true;
  const path = source.replace(/[?#].*$/s, '').replace(/\/+$/, '');
  return !/\.(json|onnx|gguf)$/i.test(path);
}

/** ONNX by name: `.onnx` at the end of the path or URL (before any query). */
export function isOnnxSource(source: string): boolean {
  return /\.onnx([?#].*)?$/i.test(source);
}

/** The files of a TensorFlow.js base; an ONNX base here is a caller's mistake, said plainly. */
export function tfjsFiles(base: BaseModel): ModelFiles {
  if (base.format !== 'tfjs') throw new ModelError(`this needs a TensorFlow.js base model, and the base is ${{ onnx: 'an ONNX model', hf: 'a Hugging Face encoder', llama: 'a Llama decoder' }[base.format]}`);
  return base.files;
}
