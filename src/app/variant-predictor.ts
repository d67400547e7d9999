// A stored variant's model as predict and evaluate use it: its tfjs model or its model.onnx, behind one interface.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OnnxSession, onnxRuntimeVersion } from '../engine/onnx-runtime.ts';
import { readOnnx } from '../model/onnx/read.ts';
import { ONNX_FILE } from '../track/local-store.ts';
import { InputError } from '../errors.ts';
import { predictInBatches } from '../train/evaluate.ts';
import { pathKind } from '../data/readers/files.ts';
import { tokenFeeds } from '../data/token-input.ts';
import type { ResolvedVariant } from '../track/resolve-variant.ts';
import { loadVariantModel, type LoadedVariantModel } from './variant-model.ts';

/** Class probabilities of each example, one row per example. */
async function probabilities(loaded: LoadedVariantModel, examples: Float32Array, count: number, batchSize = 256): Promise<Float32Array[]> {
  const classes = loaded.classNames.length;
  const { x, shape } = await loaded.prepare(examples);
  return predictInBatches(loaded.engine.tf, loaded.model, x, shape, count, batchSize).flatMap((probs) =>
    Array.from({ length: probs.length / classes }, (_, i) => probs.subarray(i * classes, (i + 1) * classes)),
  );
}

/** The variant's model.onnx on onnxruntime: refused, with the reason, when the variant has none. */
export async function loadOnnxModel(variant: ResolvedVariant): Promise<Predictor> {
  const file = join(variant.stored.dir, ONNX_FILE);
  if (!(await pathKind(file))) {
    const why = variant.stored.status.onnx?.skipped ?? (variant.stored.status.onnx ? 'its export failed' : 'its spec turned export.onnx off, or it predates ONNX export');
    throw new InputError(`variant ${variant.stored.status.variant} has no ${ONNX_FILE} (${variant.stored.dir}): ${why}; use --engine tfjs`);
  }
  const bytes = new Uint8Array(await readFile(file));
  const graphInputs = readOnnx(bytes, file).inputs;
  const inputNames = graphInputs.map((i) => i.name);
  const data = variant.spec.data;
  // A text model.onnx takes each input (input_ids, attention_mask…) as int64 [batch, tokens]; the
  // examples come packed as [inputs, max_length] rows, as the tfjs model takes them.
  const shape = data.format === 'text' ? [inputNames.length, data.max_length] : (graphInputs[0]?.shape.slice(1) ?? []);
  if (!shape.every((d): d is number => typeof d === 'number')) throw new InputError(`${file}: input shape [${shape.join(', ')}] is not fixed`);
  const session = await OnnxSession.load(bytes);
  const run =
    data.format === 'text'
      ? (x: Float32Array) => session.runNamed(tokenFeeds(x, inputNames, data.max_length), 256)
      : (x: Float32Array) => session.run(x, shape, 256);
  return {
    engine: onnxRuntimeVersion(),
    inputShape: shape,
    inputNames,
    classNames: variant.classNames,
    predict: async (x, count) => {
      const { data } = await run(x);
      const classes = data.length / count;
      return Array.from({ length: count }, (_, i) => data.subarray(i * classes, (i + 1) * classes));
    },
    dispose: () => session.dispose(),
  };
}

export async function loadTfjsModel(variant: ResolvedVariant): Promise<Predictor> {
  const loaded = await loadVariantModel(variant);
  return {
    engine: loaded.engine.name,
    inputShape: loaded.inputShape,
    inputNames: loaded.inputNames,
    classNames: loaded.classNames,
    predict: (x, count) => probabilities(loaded, x, count),
    dispose: () => loaded.dispose(),
  };
}

export type PredictorEngine = 'tfjs' | 'onnx';

/** The variant's model on the engine asked for. */
export function loadPredictor(variant: ResolvedVariant, engine: PredictorEngine): Promise<Predictor> {
  return engine === 'onnx' ? loadOnnxModel(variant) : loadTfjsModel(variant);
}

/** A variant's model on either engine: what predict and evaluate need of it. */
export interface Predictor {
  engine: string;
  inputShape: number[];
  /** The model's inputs by name (a text model takes input_ids, attention_mask…; an image model one). */
  inputNames: string[];
  classNames: string[];
  predict(x: Float32Array, count: number): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

