// Shared helpers for the training and model tests: small specs written to a temp folder that
// point at the shipped base model and Fashion-MNIST sample, driven through the real loadSpec → runSweep.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import '../helpers/home.ts';
import { loadSpec, type LoadedSpec } from '../../src/app/load-spec.ts';
import { runSweep } from '../../src/train/sweep.ts';
import type { EngineRequest } from '../../src/engine/backends.ts';
import type { SweepListener, VariantResult } from '../../src/train/events.ts';
import type { SavedModel } from '../../src/model/save.ts';
import type { WeightSpec } from '../../src/model/source.ts';
import type { VariantInfo } from '../../src/train/events.ts';
import type { TrainingData } from '../../src/train/fit.ts';
import type { BuiltModel } from '../../src/model/build.ts';
import type { Experiment } from '../../src/spec/types.ts';
import { maxPixelValue } from '../../src/data/dataset.ts';
import { loadExamples } from '../../src/train/examples.ts';
import { splitDataset } from '../../src/data/split.ts';
import { pickRows } from '../../src/data/rows.ts';

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

/**
 * The engine a training test runs on: the one it names, unless TUNESPEC_TEST_ENGINE names another
 * (`npm run test:native` runs these semantics again on native TensorFlow).
 */
export function testEngine(engine: EngineRequest): EngineRequest {
  return (process.env.TUNESPEC_TEST_ENGINE as EngineRequest | undefined) || engine;
}

/** loadSpec → runSweep, as `tunespec run` does, with the given listeners. */
export async function runSpecFile(file: string, requested: EngineRequest, listeners: SweepListener[] = []): Promise<SweepRun> {
  const engine = testEngine(requested);
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

/** The sweep's training data for a spec, gathered the way runSweep does (own split, no tfjs validationSplit). */
export async function trainingData(loaded: LoadedSpec, spec: Experiment = loaded.plan.variants[0].spec): Promise<TrainingData & { digest: string }> {
  const ds = await loadExamples(spec, loaded.dir, loaded.model.base);
  const split = splitDataset(ds.labels, spec.validation, ds.digest);
  const gather = (rows: Int32Array) => ({ x: pickRows(ds.rows, rows), y: Int32Array.from(rows, (r) => ds.labels[r]) });
  return {
    exampleShape: ds.exampleShape,
    classes: ds.classLabels.length,
    train: gather(split.train),
    validation: gather(split.validation),
    maxValue: maxPixelValue(spec.data),
    digest: split.digest,
  };
}

/** A VariantInfo good enough for fitVariant's listeners when a test calls it directly. */
export function fakeInfo(loaded: LoadedSpec, built: BuiltModel): VariantInfo {
  const layers = built.layers.map((l, i) => ({ name: l.name, className: l.getClassName(), params: l.countParams(), trainable: !built.frozen[i] }));
  return {
    variant: loaded.plan.variants[0],
    attempt: 'test',
    startedAt: 0,
    position: 0,
    total: 1,
    engine: { name: 'test', reason: 'test', version: 'test' },
    split: { train: 0, validation: 0, digest: '' },
    data: { digest: '', classNames: [] },
    layers,
    trainableParams: layers.filter((l) => l.trainable).reduce((n, l) => n + l.params, 0),
    featureCache: { status: 'off', detail: 'fitVariant called directly' },
  };
}
