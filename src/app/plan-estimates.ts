import { createHash } from 'node:crypto';
import type { Engine, EngineRequest, Tf } from '../engine/backends.ts';
import { EngineChoiceCache, type EngineChoice } from '../engine/engine-choice.ts';
import { kernelsForTraining } from '../engine/kernels.ts';
import { activeAugmentation } from '../data/augment.ts';
import { familyOf } from '../model/families/index.ts';
import { cacheBlocker, frozenBoundaries } from '../model/frozen-boundary.ts';
import { modelFrom } from '../model/graph.ts';
import type { BuiltModel } from '../model/build.ts';
import { planLayers } from '../model/layout.ts';
import type { Variant } from '../plan/expand.ts';
import { canonicalJson, contentIds } from '../plan/canonical.ts';
import { resolveFreezeRanges } from '../spec/layer-refs.ts';
import { openEncoderPrefix, openFrozenPrefix, type OpenPrefix } from '../train/frozen-features.ts';
import { encoderInputs } from '../train/examples.ts';
import { rowSize } from '../data/rows.ts';
import type * as TF from '@tensorflow/tfjs';
import { medianSeconds, probeStep, type StepProbeCache } from '../train/step-probe.ts';
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
  /** The engines picked before: with a step probe cached too, no engine is loaded at all. */
  choices: EngineChoiceCache;
}

/** An engine as far as it is known: its choice (maybe read from the cache), loaded once a step is measured. */
interface EngineSlot {
  choice: EngineChoice;
  loaded?: Engine;
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 32);

/**
 * For each variant: the engine `run` would train it on (chosen exactly as `run` chooses, from the
 * kernels its training step needs) and an estimated training time: one step measured on that
 * engine with the variant's batch size (and a text variant's max_length) on what it trains (the
 * layers after the cached features, or after the frozen prefix plus that prefix's batch on
 * onnxruntime, or the whole model), times its steps (training rows / batch size × epochs). Steps
 * are probed once per model, engine and batch shape, and kept in `probes`. Loading, frozen-feature
 * computation and validation passes are left out.
 */
export async function estimateVariants(spec: LoadedSpec, o: EstimateOptions): Promise<VariantEstimate[]> {
  const { base, layers, cutIndexes } = spec.model;
  const engines = new Map<string, EngineSlot>();
  const steps = new Map<string, { stepSeconds: number; measured: boolean } | string>();
  const serialised = new WeakMap<object, string>();
  const idOf = contentIds();
  // The base's own layers too: a model file replaced at the same path is probed again.
  const baseSignature = sha(JSON.stringify(layers.map((l) => [l.name, l.className, l.params])));
  // Variants that differ only in what no estimate reads (seeds, learning rates) share one.
  const byInputs = new Map<string, VariantEstimate | undefined>();
  const out: VariantEstimate[] = [];
  for (const v of spec.plan.variants) {
    const cutIndex = cutIndexes.get(v.id)!;
    const t = v.spec.training;
    // Scalars only, so JSON.stringify gives canonicalJson's text (and the probe keys of before) at a fraction of its cost.
    const optimizer = JSON.stringify([t.optimizer, t.momentum ?? null, t.weight_decay ?? null, t.max_grad_norm ?? null]);
    const inputs = `${cutIndex} ${idOf(v.spec.base_model)} ${idOf(v.spec.head)} ${idOf(v.spec.freeze)} ${optimizer} ${t.batch_size} ${t.epochs} ${v.spec.validation.fraction} ${idOf(v.spec.data)}`;
    const known = byInputs.get(inputs);
    if (known) {
      out.push(known);
      continue;
    }
    const structure = canonicalJson([v.spec.base_model, v.spec.head, v.spec.freeze], serialised);
    const planned = planLayers(layers, cutIndex, v.spec.head);
    const { frozen } = resolveFreezeRanges(planned, v.spec.freeze);
    const kernels = kernelsForTraining(planned, frozen.map((f) => !f));
    const kernelKey = kernels.join(',');
    let slot = engines.get(kernelKey);
    if (!slot) {
      const choice = await o.choices.get(o.engine, kernels);
      engines.set(kernelKey, (slot = choice ? { choice } : await loadedSlot(kernels)));
    }
    const augmented = activeAugmentation(v.spec.data) !== undefined;
    // Without cached features the frozen prefix runs on onnxruntime each batch: its own key, so a
    // probe of the whole model's step from before that (`false`) is not read as one.
    const onFeatures = o.featureCache && !augmented ? true : 'onnx-prefix';
    // A text step's cost grows with its token length; images' keys stay as they were.
    const tokens = tokensOf(v);
    const length = tokens === undefined ? [] : [tokens];
    const keyFor = (c: EngineChoice): string => sha(canonicalJson([spec.dir, baseSignature, structure, `${c.name} ${c.version}`, t.batch_size, optimizer, onFeatures, ...length]));
    let key = keyFor(slot.choice);
    let step = steps.get(key);
    if (step === undefined) {
      const cached = await o.probes.get(key);
      if (cached) step = { stepSeconds: cached.stepSeconds, measured: false };
      else {
        if (!slot.loaded) {
          // Measuring needs the engine itself; should it now be another, the step is keyed by that one.
          engines.set(kernelKey, (slot = await loadedSlot(kernels)));
          key = keyFor(slot.choice);
        }
        step = steps.get(key) ?? (await probed(v, cutIndex, slot.loaded!, key, augmented));
      }
      steps.set(key, step);
    }
    const engineName = `${slot.choice.name} ${slot.choice.version}`;
    const estimate = ((): VariantEstimate => {
      if (typeof step === 'string') return { engine: engineName, why: step };
      const examples = spec.examplesIn(v.spec.data);
      if (examples === undefined) return { engine: engineName, why: 'the data was not counted' };
      const trainRows = examples - Math.round(examples * v.spec.validation.fraction);
      return { engine: engineName, seconds: step.stepSeconds * Math.ceil(trainRows / t.batch_size) * t.epochs, measured: step.measured };
    })();
    byInputs.set(inputs, estimate);
    out.push(estimate);
  }
  return out;

  async function loadedSlot(kernels: readonly string[]): Promise<EngineSlot> {
    const loaded = await o.choices.select(o.engine, kernels);
    return { choice: { name: loaded.name, version: loaded.version }, loaded };
  }

  async function probed(v: Variant, cutIndex: number, engine: Engine, key: string, augmented: boolean): Promise<{ stepSeconds: number; measured: boolean }> {
    const tf = engine.tf;
    const { built, dispose } = await familyOf(base).build(tf, { base, layers }, cutIndex, v.spec);
    const t = v.spec.training;
    let part: TrainedPart | undefined;
    try {
      const cached = o.featureCache && !augmented;
      // An ONNX base's head is already the part tfjs trains; a Llama decoder is not planned here.
      part =
        base.format === 'tfjs' ? await imagePart(tf, built, cached, augmented, t.batch_size)
        : base.format === 'hf' ? await encoderPart(tf, built, encoderInputs(base.modelType), tokensOf(v)!, cached, t.batch_size)
        : { model: built.model };
      const { prefix } = part;
      const prefixPart = prefix && { boundary: prefix.opened.boundary.layer, engine: prefix.opened.engine, seconds: await medianSeconds(() => prefix.opened.run(prefix.batch).then(() => undefined)) };
      const classes = built.model.outputs[0].shape.at(-1) as number;
      const stepSeconds = (await probeStep(tf, part.model, t, classes, part.shapes)) + (prefixPart?.seconds ?? 0);
      await o.probes.put(key, { stepSeconds, ...(prefixPart && { prefix: prefixPart }), engine: `${engine.name} ${engine.version}`, measuredAt: new Date().toISOString() });
      return { stepSeconds, measured: true };
    } finally {
      await part?.prefix?.opened.dispose();
      if (part?.model !== built.model) part?.model.dispose();
      await dispose();
    }
  }
}

/** The token length a text variant's batches are padded to; undefined for other data. */
const tokensOf = (v: Variant): number | undefined => (v.spec.data.format === 'text' ? v.spec.data.max_length : undefined);

/**
 * What a variant's training step runs, as variant-setup sets it up: the model tfjs trains (the
 * layers after the frozen boundary, or the whole model; `shapes` fills in inputs of open shape),
 * and the frozen prefix that runs on onnxruntime each batch before it, with one batch of input.
 */
interface TrainedPart {
  model: TF.LayersModel;
  shapes?: number[][];
  prefix?: { opened: OpenPrefix; batch: Float32Array };
}

/** An image model's: on cached features, else after the prefix on onnxruntime, else whole. */
async function imagePart(tf: Tf, built: BuiltModel, cached: boolean, augmented: boolean, batchSize: number): Promise<TrainedPart> {
  const { model, layers, frozen } = built;
  const boundary = cached && !cacheBlocker(frozen, augmented) ? frozenBoundaries(model, layers, frozen, { throughParameterFree: true })[0] : undefined;
  if (boundary) return { model: modelFrom(tf, model, boundary.tensor) };
  const exampleShape = model.inputs[0].shape.slice(1) as number[];
  const opened = await openFrozenPrefix({ model, layers, frozen, exampleShape });
  if (typeof opened === 'string') return { model };
  const batch = new Float32Array(batchSize * rowSize(exampleShape)).map(() => Math.random());
  return { model: modelFrom(tf, model, opened.boundary.tensor), prefix: { opened, batch } };
}

/** A text encoder's, at `T` tokens: the upper blocks on cached hidden states, or after the frozen blocks on onnxruntime (--no-feature-cache), else whole. */
async function encoderPart(tf: Tf, built: BuiltModel, names: readonly string[], T: number, cached: boolean, batchSize: number): Promise<TrainedPart> {
  const { model, layers, frozen } = built;
  const maskRow = names.indexOf('attention_mask');
  const mask = model.inputs[maskRow];
  const whole = { model, shapes: names.map(() => [T]) };
  if (cached) {
    const boundary = cacheBlocker(frozen, false) ? undefined : frozenBoundaries(model, layers, frozen, { beside: [mask] })[0];
    return boundary ? { model: modelFrom(tf, model, [boundary.tensor, mask], [[T, boundary.tensor.shape[2] as number], [T]]) } : whole;
  }
  const opened = await openEncoderPrefix({ tf, model, layers, frozen, mask, maskRow, exampleShape: [names.length, T] });
  if (typeof opened === 'string') return whole;
  // Training pads every text to max_length, so the cost does not depend on the ids: padding ids, all attended.
  const batch = new Float32Array(batchSize * names.length * T);
  for (let i = 0; i < batchSize; i++) batch.fill(1, (i * names.length + maskRow) * T, (i * names.length + maskRow + 1) * T);
  return { model: modelFrom(tf, model, [opened.boundary.tensor, mask], opened.inputShapes), prefix: { opened, batch } };
}
