import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathKind } from '../data/readers/files.ts';
import { OnnxSession } from '../engine/onnx-runtime.ts';
import { inputShape } from '../model/onnx/edit.ts';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine, type Engine } from '../engine/backends.ts';
import { InputError, ModelError, UsageError } from '../errors.ts';
import { cacheRoot } from '../engine/feature-cache.ts';
import { BASE_ONNX_FILE, readStoredVariant } from '../track/local-store.ts';
import { MlflowClient } from '../track/mlflow/client.ts';
import { resolveTrackingConfig } from '../track/mlflow/config.ts';
import { downloadModelVersion } from '../track/mlflow/registry.ts';
import { readModelFiles } from '../model/source.ts';
import { loadStoredVariant, resolveVariant, type ResolvedVariant, type VariantUse } from '../track/resolve-variant.ts';
import { objectiveOf } from '../spec/derived.ts';
import { readSpecDocument } from './load-spec.ts';
import { registerModelLayers } from '../model/families/hf.ts';

/**
 * Where registered model versions are downloaded to: `registry/` beside the Hugging Face model
 * cache (TUNESPEC_CACHE_DIR when set, else the XDG cache), so one setting moves every cache.
 */
function registryCacheDir(env: NodeJS.ProcessEnv): string {
  return join(cacheRoot(env), 'registry');
}

/** A registered model version (`models:/NAME/VERSION`, `models:/NAME@ALIAS`), downloaded once and loaded as a stored variant. */
async function resolveRegistered(uri: string, trackingUri: string | undefined): Promise<ResolvedVariant> {
  const config = resolveTrackingConfig({ flag: trackingUri, spec: {}, specName: '', env: process.env });
  if (!config) throw new UsageError(`${uri} names a model in an MLflow registry: say which server with --tracking-uri or MLFLOW_TRACKING_URI`);
  const { dir } = await downloadModelVersion(new MlflowClient(config), uri, registryCacheDir(process.env));
  const stored = await readStoredVariant(dir);
  if (!stored) throw new InputError(`${uri}: the model version holds no tunespec record (status.json) in ${dir}`);
  return loadStoredVariant(stored);
}

/**
 * The variant a command acts on: a stored variant (id, folder, `best` of a spec by its
 * objective; the spec is only read for `best`) or a registered model version (`models:/…`).
 */
export async function resolveTarget(target: string, specFile: string | undefined, runsDir: string, trackingUri?: string, use: VariantUse = 'predict'): Promise<ResolvedVariant> {
  if (target.startsWith('models:/')) return resolveRegistered(target, trackingUri);
  let best;
  if (target === 'best' && specFile) {
    // Only the spec's own fields matter here: its base model and data need not be read.
    const { experiment } = await readSpecDocument(specFile);
    best = { experiment: experiment.name, ...objectiveOf(experiment.training.objective) };
  }
  return resolveVariant(target, { runsDir: resolve(runsDir), best, use });
}

export interface LoadedVariantModel {
  engine: Engine;
  /** The variant's tfjs model; on an ONNX base, the head alone, which takes what `prepare` gives. */
  model: TF.LayersModel;
  /** The shape of one example as users feed it, without the batch dimension. */
  inputShape: number[];
  /** The model's input names, in order (a text encoder's input_ids, attention_mask, …). */
  inputNames: string[];
  classNames: string[];
  /** Examples to what `model` takes: the ONNX base's features for such a variant, else as they are. */
  prepare(x: Float32Array): Promise<{ x: Float32Array; shape: number[] }>;
  dispose(): Promise<void>;
}

/** An ONNX-base variant keeps its base, cut where the head starts, beside its model. */
async function onnxBaseOf(variant: ResolvedVariant): Promise<{ session: OnnxSession; inputShape: number[] } | undefined> {
  const file = join(variant.stored.dir, BASE_ONNX_FILE);
  if (!(await pathKind(file))) return undefined;
  const bytes = new Uint8Array(await readFile(file));
  const shape = inputShape(bytes);
  if (shape.some((d) => d === null)) throw new ModelError(`${file}: input shape [${shape.join(', ')}] is not fixed`, file);
  return { session: await OnnxSession.load(bytes), inputShape: shape as number[] };
}

/** The stored model on the fastest engine that loads (inference needs no gradient kernels). */
export async function loadVariantModel(variant: ResolvedVariant): Promise<LoadedVariantModel> {
  const engine = await selectEngine('auto', []);
  const files = await readModelFiles({ kind: 'file', path: variant.modelJson });
  registerModelLayers(engine.tf);
  let model: TF.LayersModel;
  try {
    const weightSpecs = files.weightSpecs as TF.io.WeightsManifestEntry[];
    model = await engine.tf.loadLayersModel(engine.tf.io.fromMemory({ modelTopology: files.json.modelTopology, weightSpecs, weightData: files.weightData }));
  } catch (err) {
    throw new ModelError(`cannot load ${variant.modelJson}: ${(err as Error).message}`, variant.modelJson);
  }
  // A text variant takes [inputs, max_length] token rows (data/token-input.ts); its inputs take any length.
  const data = variant.spec.data;
  const modelShape = data.format === 'text' ? [model.inputs.length, data.max_length] : model.inputs[0]!.shape.slice(1);
  if (modelShape.some((d) => d === null)) throw new ModelError(`${variant.modelJson}: input shape [${modelShape.join(', ')}] is not fixed`, variant.modelJson);
  const classes = (model.outputs[0]!.shape.at(-1) ?? 0) as number;
  const classNames = variant.classNames.length === classes ? variant.classNames : Array.from({ length: classes }, (_, i) => String(i));
  const base = await onnxBaseOf(variant);
  return {
    engine,
    model,
    inputShape: base?.inputShape ?? (modelShape as number[]),
    inputNames: model.inputs.map((i) => i.name),
    classNames,
    prepare: async (x) => {
      if (!base) return { x, shape: modelShape as number[] };
      const features = await base.session.run(x, base.inputShape, 256);
      return { x: features.data, shape: features.shape };
    },
    dispose: async () => {
      model.dispose();
      await base?.session.dispose();
    },
  };
}
