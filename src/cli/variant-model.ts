import { resolve } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { selectEngine, type Engine } from '../engine/backends.ts';
import { ModelError } from '../errors.ts';
import { readModelFiles } from '../model/source.ts';
import { resolveVariant, type ResolvedVariant } from '../track/resolve-variant.ts';
import { modeFor } from '../train/schedule.ts';
import { loadSpec } from './load-spec.ts';

/** The variant a command acts on; the spec is only read for `best`, which is best by its objective. */
export async function resolveTarget(target: string, specFile: string | undefined, runsDir: string): Promise<ResolvedVariant> {
  let best;
  if (target === 'best' && specFile) {
    const { experiment } = await loadSpec(specFile);
    const { metric, mode } = experiment.training.objective;
    best = { experiment: experiment.name, metric, greaterIsBetter: modeFor(metric, mode) === 'max' };
  }
  return resolveVariant(target, { runsDir: resolve(runsDir), best });
}

export interface LoadedVariantModel {
  engine: Engine;
  model: TF.LayersModel;
  /** The model's input shape without the batch dimension. */
  inputShape: number[];
  classNames: string[];
}

/** The stored model on the fastest engine that loads (inference needs no gradient kernels). */
export async function loadVariantModel(variant: ResolvedVariant): Promise<LoadedVariantModel> {
  const engine = await selectEngine('auto', []);
  const files = await readModelFiles({ kind: 'file', path: variant.modelJson });
  let model: TF.LayersModel;
  try {
    const weightSpecs = files.weightSpecs as TF.io.WeightsManifestEntry[];
    model = await engine.tf.loadLayersModel(engine.tf.io.fromMemory({ modelTopology: files.json.modelTopology, weightSpecs, weightData: files.weightData }));
  } catch (err) {
    throw new ModelError(`cannot load ${variant.modelJson}: ${(err as Error).message}`, variant.modelJson);
  }
  const inputShape = model.inputs[0]!.shape.slice(1);
  if (inputShape.some((d) => d === null)) throw new ModelError(`${variant.modelJson}: input shape [${inputShape.join(', ')}] is not fixed`, variant.modelJson);
  const classes = (model.outputs[0]!.shape.at(-1) ?? 0) as number;
  const classNames = variant.classNames.length === classes ? variant.classNames : Array.from({ length: classes }, (_, i) => String(i));
  return { engine, model, inputShape: inputShape as number[], classNames };
}
