import { createHash } from 'node:crypto';
import { selectEngine, type EngineRequest } from '../engine/backends.ts';
import { kernelsForTraining } from '../engine/kernels.ts';
import { activeAugmentation } from '../data/augment.ts';
import { familyOf } from '../model/families/index.ts';
import { cacheBlocker, frozenBoundaries } from '../model/frozen-boundary.ts';
import { modelFrom } from '../model/graph.ts';
import { planLayers } from '../model/layout.ts';
import type { Variant } from '../plan/expand.ts';
import { canonicalJson } from '../plan/canonical.ts';
import { resolveFreezeRanges } from '../spec/layer-refs.ts';
import { probeStep, type StepProbeCache } from '../train/step-probe.ts';
import type { LoadedSpec } from './load-spec.ts';

/** What `plan` says about how a variant will train. */
export interface VariantEstimate {
  /** The engine `run` would pick, with its version. */
  engine: string;
  /** One measured training step times the variant's steps; undefined with `why` when there is none. */
  seconds?: number;
  why?: string;
  /** The step was measured now rather than read from the probe cache. */
  measured?: boolean;
}

export interface EstimateOptions {
  engine: EngineRequest;
  /** Whether `run` would train on cached frozen features (no --no-feature-cache). */
  featureCache: boolean;
  probes: StepProbeCache;
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 32);

/**
 * For each variant: the engine `run` would train it on (chosen exactly as `run` chooses, from the
 * kernels its training step needs) and an estimated training time: one step measured on that
 * engine with the variant's batch size on what it trains (the layers after the cached features, or
 * the whole model), times its steps (training rows / batch size × epochs). Steps are probed once
 * per model, engine and batch shape, and kept in `probes`. Loading, frozen-feature computation and
 * validation passes are left out.
 */
export async function estimateVariants(spec: LoadedSpec, o: EstimateOptions): Promise<VariantEstimate[]> {
  const { base, layers, cutIndexes } = spec.model;
  const engines = new Map<string, Awaited<ReturnType<typeof selectEngine>>>();
  const steps = new Map<string, { stepSeconds: number; measured: boolean } | string>();
  const serialised = new WeakMap<object, string>();
  // The base's own layers too: a model file replaced at the same path is probed again.
  const baseSignature = sha(JSON.stringify(layers.map((l) => [l.name, l.className, l.params])));
  const out: VariantEstimate[] = [];
  for (const v of spec.plan.variants) {
    const cutIndex = cutIndexes.get(v.id)!;
    const structure = canonicalJson([v.spec.base_model, v.spec.head, v.spec.freeze], serialised);
    const planned = planLayers(layers, cutIndex, v.spec.head);
    const { frozen } = resolveFreezeRanges(planned, v.spec.freeze);
    const kernels = kernelsForTraining(planned, frozen.map((f) => !f));
    const kernelKey = kernels.join(',');
    let engine = engines.get(kernelKey);
    if (!engine) engines.set(kernelKey, (engine = await selectEngine(o.engine, kernels)));
    const engineName = `${engine.name} ${engine.version}`;
    const augmented = activeAugmentation(v.spec.data) !== undefined;
    const t = v.spec.training;
    const optimizer = canonicalJson([t.optimizer, t.momentum ?? null, t.weight_decay ?? null, t.max_grad_norm ?? null]);
    const key = sha(canonicalJson([spec.dir, baseSignature, structure, engineName, t.batch_size, optimizer, o.featureCache && !augmented]));
    let step = steps.get(key);
    if (step === undefined) {
      step = await probed(spec, v, cutIndex, engine, o, key, augmented);
      steps.set(key, step);
    }
    if (typeof step === 'string') {
      out.push({ engine: engineName, why: step });
      continue;
    }
    const examples = spec.examplesIn(v.spec.data);
    if (examples === undefined) {
      out.push({ engine: engineName, why: 'the data was not counted' });
      continue;
    }
    const trainRows = examples - Math.round(examples * v.spec.validation.fraction);
    out.push({ engine: engineName, seconds: step.stepSeconds * Math.ceil(trainRows / t.batch_size) * t.epochs, measured: step.measured });
  }
  return out;

  async function probed(
    s: LoadedSpec,
    v: Variant,
    cutIndex: number,
    engine: Awaited<ReturnType<typeof selectEngine>>,
    opts: EstimateOptions,
    key: string,
    augmented: boolean,
  ): Promise<{ stepSeconds: number; measured: boolean } | string> {
    const cached = await opts.probes.get(key);
    if (cached) return { stepSeconds: cached.stepSeconds, measured: false };
    if (base.format === 'hf') return 'not probed for text models yet';
    const tf = engine.tf;
    const { built, dispose } = await familyOf(base).build(tf, { base, layers }, cutIndex, v.spec);
    let suffix;
    try {
      // As variant-setup trains it: a tfjs base's layers after the frozen boundary on cached
      // features; an ONNX base's head is already the part tfjs trains.
      const boundary = base.format === 'tfjs' && opts.featureCache && !cacheBlocker(built.frozen, augmented) ? frozenBoundaries(built.model, built.layers, built.frozen, { throughParameterFree: true })[0] : undefined;
      if (boundary) suffix = modelFrom(tf, built.model, boundary.tensor);
      const classes = built.model.outputs[0].shape.at(-1) as number;
      const stepSeconds = await probeStep(tf, suffix ?? built.model, v.spec.training, classes);
      await opts.probes.put(key, { stepSeconds, engine: `${engine.name} ${engine.version}`, measuredAt: new Date().toISOString() });
      return { stepSeconds, measured: true };
    } finally {
      suffix?.dispose();
      await dispose();
    }
  }
}
