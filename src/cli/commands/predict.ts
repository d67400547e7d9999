import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import { readUnlabeled } from '../../data/unlabeled.ts';
import { predictInBatches } from '../../train/evaluate.ts';
import { pathKind } from '../../data/readers/files.ts';
import { fixed, formatTable } from '../../report/table.ts';
import type { ResolvedVariant } from '../../track/resolve-variant.ts';
import { loadVariantModel, resolveTarget, type LoadedVariantModel } from '../variant-model.ts';
import type { Io } from '../io.ts';

export interface PredictOptions {
  spec?: string;
  runsDir: string;
  top: number;
  engine: string;
  json: boolean;
}

/** Class probabilities of each example, one row per example. */
function probabilities(loaded: LoadedVariantModel, features: Float32Array, count: number, batchSize = 256): Float32Array[] {
  const classes = loaded.classNames.length;
  return predictInBatches(loaded.engine.tf, loaded.model, features, loaded.inputShape, count, batchSize).flatMap((probs) =>
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

/**
 * ONNX runs need `model.onnx` beside the variant's tfjs model and onnxruntime-node; neither is
 * shipped yet, so the request is refused with what is missing rather than silently run on tfjs.
 */
async function refuseOnnx(variant: ResolvedVariant): Promise<never> {
  const onnx = join(variant.stored.dir, 'model.onnx');
  if (!(await pathKind(onnx))) {
    throw new InputError(`variant ${variant.stored.status.variant} has no model.onnx (${variant.stored.dir}): tunespec does not export ONNX yet; use --engine tfjs`);
  }
  throw new InputError(`${onnx}: --engine onnx needs onnxruntime-node, which tunespec does not ship yet; use --engine tfjs`);
}

const ordinal = (k: number): string => `${k}${k === 1 ? 'st' : k === 2 ? 'nd' : k === 3 ? 'rd' : 'th'}`;

export async function predictCommand(target: string, inputs: string[], opts: PredictOptions, io: Io): Promise<number> {
  const variant = await resolveTarget(target, opts.spec, opts.runsDir);
  if (opts.engine === 'onnx') await refuseOnnx(variant);
  const loaded = await loadVariantModel(variant);
  try {
    const batch = await readUnlabeled(inputs, variant.spec.data, loaded.inputShape);
    const k = Math.min(opts.top, loaded.classNames.length);
    const ranked = probabilities(loaded, batch.features, batch.names.length).map((p) => topK(p, loaded.classNames, k));
    const { status } = variant.stored;
    if (opts.json) {
      const predictions = batch.names.map((input, i) => ({ input, top: ranked[i] }));
      io.out(JSON.stringify({ variant: status.variant, label: status.label, dir: variant.stored.dir, engine: loaded.engine.name, predictions }, null, 2));
      return 0;
    }
    io.out(`variant ${status.variant} (${status.label}), ${batch.names.length} input(s), engine ${loaded.engine.name}`);
    const header = ['input', ...Array.from({ length: k }, (_, j) => [ordinal(j + 1), 'p']).flat()];
    io.out(formatTable(header, batch.names.map((name, i) => [name, ...ranked[i]!.flatMap((r) => [r.name, fixed(r.probability)])])));
    return 0;
  } finally {
    loaded.model.dispose();
  }
}
