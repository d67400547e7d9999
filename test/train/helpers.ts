// Shared helpers for the training and model tests: small specs written to a temp folder that
// point at the shipped base model and Fashion-MNIST sample, driven through the real loadSpec → runSweep.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { loadSpec, type LoadedSpec } from '../../src/cli/load-spec.ts';
import { runSweep } from '../../src/train/sweep.ts';
import type { EngineRequest } from '../../src/engine/backends.ts';
import type { SavedModel, SweepListener, VariantResult } from '../../src/train/events.ts';
import type { WeightSpec } from '../../src/model/source.ts';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BASE_MODEL = join(ROOT, 'models/fashion-base/model.json');
export const IMAGES = join(ROOT, 'data/quickstart/images-idx3-ubyte.gz');
export const LABELS = join(ROOT, 'data/quickstart/labels-idx1-ubyte.gz');

/** A fresh temp folder, removed when the test file finishes. */
export async function tempDir(prefix = 'tunespec-train-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

type Json = Record<string, unknown>;

/** A quickstart-like spec: conv base frozen up to flatten, small dense head, few examples, 1 epoch. */
export function baseSpec(): Json {
  return {
    name: 'test',
    base_model: { source: BASE_MODEL, cut: 'flatten' },
    head: [
      { type: 'dense', units: 16, activation: 'relu' },
      { type: 'dense', units: 5, activation: 'softmax' },
    ],
    freeze: [{ from: 0, to: 'flatten' }],
    data: { format: 'idx', images: IMAGES, labels: LABELS, classes: [5, 6, 7, 8, 9], limit_per_class: 60 },
    validation: { fraction: 0.2, seed: 7 },
    training: { epochs: 1, batch_size: 32, optimizer: 'adam', learning_rate: 0.001, seed: 42 },
  };
}

let counter = 0;

/** Write a spec (JSON is YAML) into `dir` and return its path. */
export async function writeSpec(dir: string, spec: Json): Promise<string> {
  const file = join(dir, `spec-${++counter}.yaml`);
  await writeFile(file, JSON.stringify(spec, null, 2));
  return file;
}

export interface SweepRun {
  loaded: LoadedSpec;
  results: Map<string, VariantResult>;
  /** Results in plan order. */
  ordered: VariantResult[];
}

/** loadSpec → runSweep, as `tunespec run` does, with the given listeners. */
export async function runSpecFile(file: string, engine: EngineRequest, listeners: SweepListener[] = []): Promise<SweepRun> {
  const loaded = await loadSpec(file);
  const results = await runSweep(
    { experiment: loaded.experiment.name, specFile: file, specText: loaded.text, dir: loaded.dir, plan: loaded.plan, model: loaded.model },
    { engine, only: [], skipReason: async () => undefined, signal: new AbortController().signal },
    listeners,
  );
  return { loaded, results, ordered: loaded.plan.variants.map((v) => results.get(v.id)!) };
}

export async function runSpec(dir: string, spec: Json, engine: EngineRequest, listeners: SweepListener[] = []): Promise<SweepRun> {
  return runSpecFile(await writeSpec(dir, spec), engine, listeners);
}

/** Weights as raw float32 values by name, from a manifest and its concatenated weight data. */
export function weightsByName(specs: readonly WeightSpec[], data: ArrayBuffer): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let offset = 0;
  for (const s of specs) {
    if (s.dtype !== 'float32' || s.quantization) throw new Error(`unexpected weight encoding for ${s.name}`);
    const count = s.shape.reduce((a, b) => a * b, 1);
    out.set(s.name, new Float32Array(data.slice(offset, offset + count * 4)));
    offset += count * 4;
  }
  if (offset !== data.byteLength) throw new Error(`weight data has ${data.byteLength} bytes, manifest describes ${offset}`);
  return out;
}

export function savedWeights(model: SavedModel): Map<string, Float32Array> {
  return weightsByName(model.weightSpecs as WeightSpec[], model.weightData);
}

/** Bit-for-bit equality of two float arrays (NaN payloads and -0 included). */
export function sameBytes(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
