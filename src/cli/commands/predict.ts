import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OnnxSession, onnxRuntimeVersion } from '../../engine/onnx-runtime.ts';
import { readOnnx } from '../../model/onnx/read.ts';
import { ONNX_FILE } from '../../track/local-store.ts';
import { InputError } from '../../errors.ts';
import { readUnlabeled } from '../../data/unlabeled.ts';
import { predictInBatches } from '../../train/evaluate.ts';
import { pathKind } from '../../data/readers/files.ts';
import { fixed, formatTable } from '../../report/table.ts';
import type { ResolvedVariant } from '../../track/resolve-variant.ts';
import { loadVariantModel, resolveTarget, type LoadedVariantModel } from '../../app/variant-model.ts';
import type { Io } from '../io.ts';

export interface PredictOptions {
  spec?: string;
  runsDir: string;
  trackingUri?: string;
  top: number;
  engine: string;
  json: boolean;
}

/** Class probabilities of each example, one row per example. */
async function probabilities(loaded: LoadedVariantModel, examples: Float32Array, count: number, batchSize = 256): Promise<Float32Array[]> {
  const classes = loaded.classNames.length;
  const { x, shape } = await loaded.prepare(examples);
  return predictInBatches(loaded.engine.tf, loaded.model, x, shape, count, batchSize).flatMap((probs) =>
    Array.from({ length: probs.length / classes }, (_, i) => probs.subarray(i * classes, (i + 1) * classes)),
  );
}

interface Ranked {
  class: number;
  name: string;
  probability: number;
}

function topK(probs: Float32Array, names: string[], k: number): Ranked[] {
  return [...probs]
    .map((probability, c) => ({ class: c, name: names[c]!, probability }))
    .sort((a, b) => b.probability - a.probability || a.class - b.class)
    .slice(0, k);
}

/** The variant's model.onnx on onnxruntime: refused, with the reason, when the variant has none. */
async function loadOnnxModel(variant: ResolvedVariant): Promise<Predictor> {
  const file = join(variant.stored.dir, ONNX_FILE);
  if (!(await pathKind(file))) {
    const why = variant.stored.status.onnx?.skipped ?? (variant.stored.status.onnx ? 'its export failed' : 'its spec turned export.onnx off, or it predates ONNX export');
    throw new InputError(`variant ${variant.stored.status.variant} has no ${ONNX_FILE} (${variant.stored.dir}): ${why}; use --engine tfjs`);
  }
  const bytes = new Uint8Array(await readFile(file));
  const shape = readOnnx(bytes, file).inputs[0]?.shape.slice(1) ?? [];
  if (!shape.every((d): d is number => typeof d === 'number')) throw new InputError(`${file}: input shape [${shape.join(', ')}] is not fixed`);
  const session = await OnnxSession.load(bytes);
  return {
    engine: onnxRuntimeVersion(),
    inputShape: shape,
    classNames: variant.classNames,
    predict: async (x, count) => {
      const { data } = await session.run(x, shape, 256);
      const classes = data.length / count;
      return Array.from({ length: count }, (_, i) => data.subarray(i * classes, (i + 1) * classes));
    },
    dispose: () => session.dispose(),
  };
}

async function loadTfjsModel(variant: ResolvedVariant): Promise<Predictor> {
  const loaded = await loadVariantModel(variant);
  return {
    engine: loaded.engine.name,
    inputShape: loaded.inputShape,
    classNames: loaded.classNames,
    predict: (x, count) => probabilities(loaded, x, count),
    dispose: () => loaded.dispose(),
  };
}

/** A variant's model on either engine: what predict needs of it. */
interface Predictor {
  engine: string;
  inputShape: number[];
  classNames: string[];
  predict(x: Float32Array, count: number): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

const ordinal = (k: number): string => `${k}${k === 1 ? 'st' : k === 2 ? 'nd' : k === 3 ? 'rd' : 'th'}`;

export async function predictCommand(target: string, inputs: string[], opts: PredictOptions, io: Io): Promise<number> {
  const variant = await resolveTarget(target, opts.spec, opts.runsDir, opts.trackingUri);
  const loaded = opts.engine === 'onnx' ? await loadOnnxModel(variant) : await loadTfjsModel(variant);
  try {
    const batch = await readUnlabeled(inputs, variant.spec.data, loaded.inputShape, variant.spec.base_model.preprocess);
    // On stderr, so the table or JSON on stdout stays as it was; the training images went through the same conversion.
    for (const c of batch.conversions) io.err(`predict: ${c.count} input${c.count === 1 ? '' : 's'} ${c.what}`);
    const k = Math.min(opts.top, loaded.classNames.length);
    const ranked = (await loaded.predict(batch.features, batch.names.length)).map((p) => topK(p, loaded.classNames, k));
    const { status } = variant.stored;
    if (opts.json) {
      const predictions = batch.names.map((input, i) => ({ input, top: ranked[i] }));
      io.out(JSON.stringify({ variant: status.variant, label: status.label, dir: variant.stored.dir, engine: loaded.engine, predictions }, null, 2));
      return 0;
    }
    io.out(`variant ${status.variant} (${status.label}), ${batch.names.length} input(s), engine ${loaded.engine}`);
    const header = ['input', ...Array.from({ length: k }, (_, j) => [ordinal(j + 1), 'p']).flat()];
    io.out(formatTable(header, batch.names.map((name, i) => [name, ...ranked[i]!.flatMap((r) => [r.name, fixed(r.probability)])])));
    return 0;
  } finally {
    await loaded.dispose();
  }
}
