import { randomUUID } from 'node:crypto';
import { selectEngine, slowEngineReason, type EngineRequest } from '../engine/backends.ts';
import { envNumber } from '../net/env-number.ts';
import { roughDuration } from './duration.ts';
import { kernelsForTraining } from '../engine/kernels.ts';
import { loadDataset, maxPixelValue, type Dataset } from '../data/dataset.ts';
import { splitDataset, type Split } from '../data/split.ts';
import { gatherRows } from '../data/gather.ts';
import { saveToMemory } from '../model/save.ts';
import type { BaseModel } from '../model/source.ts';
import { setUpVariant } from './variant-setup.ts';
import type { LayerInfo } from '../model/topology.ts';
import { planLayers } from '../model/layout.ts';
import { resolveFreezeRanges } from '../spec/layer-refs.ts';
import type { Experiment } from '../spec/types.ts';
import type { Plan, Variant } from '../plan/expand.ts';
import { canonicalJson } from '../plan/canonical.ts';
import { emit, type SweepInfo, type SweepListener, type VariantInfo, type VariantResult } from './events.ts';
import { fitVariant, type TrainingData, type TrainingLimit } from './fit.ts';

/** Longest estimated training (seconds) a variant may take on an engine slowEngineReason names. */
export const SLOW_ENGINE_LIMIT_ENV = 'TUNESPEC_SLOW_ENGINE_LIMIT';

/** Refuse, after one measured step, a variant the slow engine would train for longer than the limit. */
function slowEngineLimit(why: string): TrainingLimit {
  const seconds = envNumber(process.env, SLOW_ENGINE_LIMIT_ENV, 600, false);
  return {
    seconds,
    refusal: (step, steps) =>
      `not training: ${why}; its first step took ${step.toFixed(2)} s, so its ${steps} steps would take about ${roughDuration(step * steps)} ` +
      `(more than ${roughDuration(seconds)}, ${SLOW_ENGINE_LIMIT_ENV}). Set up the native engine with \`npm run setup:native\` (a few minutes), ` +
      'or pass --backend cpu to train on cpu anyway',
  };
}
import { Interrupted, VariantFailure } from './failure.ts';
import { withSeededMathRandom } from './seeded-random.ts';
import type { FrozenFeatureCache } from '../engine/feature-cache.ts';

export interface SweepInput {
  experiment: string;
  specFile: string;
  specText: string;
  dir: string;
  plan: Plan;
  /** The base model, and where each variant cuts it (by variant id). */
  model: { base: BaseModel; layers: LayerInfo[]; cutIndexes: ReadonlyMap<string, number> };
}

export interface SweepOptions {
  engine: EngineRequest;
  /** Variants to run; all when empty. */
  only: readonly string[];
  /** Why a variant need not run again (already completed), or undefined to run it. */
  skipReason(variant: Variant): Promise<string | undefined>;
  signal: AbortSignal;
  /** Where frozen-layer features are cached; undefined trains every variant end to end. */
  featureCache?: FrozenFeatureCache;
}

function gather(ds: Dataset, rows: Int32Array): { x: Float32Array; y: Int32Array } {
  const size = ds.exampleShape.reduce((a, b) => a * b, 1);
  return { x: gatherRows(ds.features, size, rows), y: Int32Array.from(rows, (r) => ds.labels[r]) };
}

interface Prepared {
  dataset: Dataset;
  split: Split;
  data: TrainingData;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Run the variants of a plan one after another. A variant that fails is recorded and the sweep
 * goes on; an interrupt marks the current variant interrupted and stops the sweep.
 */
export async function runSweep(input: SweepInput, opts: SweepOptions, listeners: readonly SweepListener[]): Promise<Map<string, VariantResult>> {
  const variants = input.plan.variants.filter((v) => !opts.only.length || opts.only.includes(v.id));
  const sweep: SweepInfo = { experiment: input.experiment, sweepId: input.plan.sweepId, specFile: input.specFile, specText: input.specText, variants };
  const results = new Map<string, VariantResult>();
  const prepared = new Map<string, Prepared>();
  await emit(listeners, 'onSweepStart', sweep);

  const prepare = async (spec: Experiment): Promise<Prepared> => {
    const key = canonicalJson([spec.data, spec.validation, spec.base_model.preprocess]);
    let p = prepared.get(key);
    if (!p) {
      const dataset = await loadDataset(spec.data, input.dir, spec.base_model.preprocess);
      const split = splitDataset(dataset.labels, spec.validation, dataset.digest);
      const data: TrainingData = {
        exampleShape: dataset.exampleShape,
        classes: dataset.classLabels.length,
        train: gather(dataset, split.train),
        validation: gather(dataset, split.validation),
        maxValue: maxPixelValue(spec.data),
      };
      prepared.set(key, (p = { dataset, split, data }));
    }
    return p;
  };

  for (const [position, variant] of variants.entries()) {
    const skip = await opts.skipReason(variant);
    if (skip) {
      results.set(variant.id, { status: 'skipped', reason: skip, seconds: 0, attempt: '', startedAt: 0, finishedAt: 0 });
      await emit(listeners, 'onVariantSkipped', variant, skip);
      continue;
    }
    const started = performance.now();
    const attempt = randomUUID();
    const startedAt = Date.now();
    let info: VariantInfo | undefined;
    let result: VariantResult;
    try {
      const { dataset, split, data } = await prepare(variant.spec);
      const cutIndex = input.model.cutIndexes.get(variant.id)!;
      const planned = planLayers(input.model.layers, cutIndex, variant.spec.head);
      const { frozen } = resolveFreezeRanges(planned, variant.spec.freeze);
      // Loading the engine draws from Math.random (seedrandom's start-up), so it happens before
      // the seeded window: otherwise the first variant of a process would train differently.
      const kernels = kernelsForTraining(planned, frozen.map((f) => !f));
      const engine = await selectEngine(opts.engine, kernels);
      const slow = slowEngineReason(opts.engine, engine.name, kernels);
      result = await withSeededMathRandom(variant.spec.training.seed, async () => {
        const spec = variant.spec;
        const setup = await setUpVariant({ engine, base: input.model.base, baseLayers: input.model.layers, cutIndex, spec, dataset, split, data, cache: opts.featureCache });
        try {
          info = {
            variant,
            attempt,
            startedAt,
            position,
            total: variants.length,
            engine: { name: engine.name, reason: engine.reason, version: engine.version },
            split: { train: split.train.length, validation: split.validation.length, digest: split.digest },
            data: { digest: dataset.digest, classNames: dataset.classNames },
            layers: setup.layers,
            trainableParams: setup.layers.filter((l) => l.trainable).reduce((n, l) => n + l.params, 0),
            featureCache: setup.featureCache,
          };
          await emit(listeners, 'onVariantStart', info);
          const outcome = await fitVariant(engine.tf, setup.trainOn, spec, setup.data, info, listeners, opts.signal, slow ? slowEngineLimit(slow) : undefined);
          const onnx = spec.export.onnx
            ? await setup.exportOnnx({ 'tunespec.variant': variant.id, 'tunespec.label': variant.label, 'tunespec.class_names': JSON.stringify(dataset.classNames) })
            : undefined;
          const model = await saveToMemory(engine.tf, setup.saved);
          return { status: 'completed' as const, ...outcome, model, baseGraph: setup.baseGraph, onnx, seconds: 0, attempt, startedAt, finishedAt: 0 };
        } finally {
          setup.dispose();
        }
      });
    } catch (err) {
      result = { status: err instanceof Interrupted ? 'interrupted' : 'failed', reason: errorMessage(err), seconds: 0, attempt, startedAt, finishedAt: 0 };
      if (err instanceof VariantFailure) result.deterministic = true;
    }
    result.seconds = (performance.now() - started) / 1000;
    result.finishedAt = Date.now();
    results.set(variant.id, result);
    await emit(listeners, 'onVariantEnd', variant, result, info);
    if (result.status === 'interrupted') break;
  }
  await emit(listeners, 'onSweepEnd', sweep, results);
  return results;
}
