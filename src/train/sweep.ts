import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { taskOf } from '../spec/derived.ts';
import type { LlamaBase } from '../model/families/llama-decoder.ts';
import { trainDecoderVariant } from './causal-variant.ts';
import { selectEngine, slowEngineReason, type EngineRequest } from '../engine/backends.ts';
import { arithmeticHost } from '../engine/arithmetic-host.ts';
import { envNumber } from '../net/env-number.ts';
import { roughDuration } from './duration.ts';
import { kernelsForTraining } from '../engine/kernels.ts';
import { maxPixelValue, type Dataset } from '../data/dataset.ts';
import { loadExamples } from './examples.ts';
import { splitDataset, type Split } from '../data/split.ts';
import { pickRows } from '../data/rows.ts';
import { saveToMemory } from '../model/save.ts';
import type { BaseModel } from '../model/source.ts';
import { setUpVariant } from './variant-setup.ts';
import type { LayerInfo } from '../model/topology.ts';
import { planLayers } from '../model/layout.ts';
import { resolveFreezeRanges } from '../spec/layer-refs.ts';
import type { Experiment } from '../spec/types.ts';
import type { Plan, Variant } from '../plan/expand.ts';
import { canonicalJson } from '../plan/canonical.ts';
import { emit, type SweepInfo, type SweepListener, type VariantClaim, type VariantClaims, type VariantInfo, type VariantResult } from './events.ts';
import { fitVariant, type TrainingData, type TrainingLimit } from './fit.ts';
import { resumePoint } from './loop-position.ts';
import { describeResumePoint, type Checkpoint, type CheckpointIdentity, type LoopCheckpoints, type VariantCheckpoints } from './checkpoint.ts';
import { baseModelDigest } from '../model/recorded-spec.ts';
import { variantIdentity } from '../spec/derived.ts';
import { sha256Hex } from '../data/digest.ts';

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

/** How often a sweep looks again at a variant another process holds. */
const CLAIM_POLL_MS = 1000;

export interface SweepOptions {
  engine: EngineRequest;
  /** Variants to run; all when empty. */
  only: readonly string[];
  /** Why a variant need not run again (already completed), or undefined to run it. */
  skipReason(variant: Variant): Promise<string | undefined>;
  signal: AbortSignal;
  /** Where frozen-layer features are cached; undefined trains every variant end to end. */
  featureCache?: FrozenFeatureCache;
  /** Locks of the store the sweep writes to; without them (no store) every variant is this process's. */
  claims?: VariantClaims;
  /** Train from scratch, discarding checkpoints, instead of resuming an interrupted variant. */
  restart?: boolean;
}


/** One side of the split: its rows are made from the dataset's as each batch asks for them. */
function side(ds: Dataset, rows: Int32Array): TrainingData['train'] {
  return { x: pickRows(ds.rows, rows), y: Int32Array.from(rows, (r) => ds.labels[r]) };
}

interface Prepared {
  dataset: Dataset;
  split: Split;
  data: TrainingData;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/**
 * Run the variants of a plan one after another. A variant that fails is recorded and the sweep
 * goes on; an interrupt marks the current variant interrupted and stops the sweep. A variant
 * another process is training is put off: the others are trained first, then the sweep waits for
 * it, and skips it if that process completed it (or trains it if that process stopped short).
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
      const dataset = await loadExamples(spec, input.dir, input.model.base);
      const split = splitDataset(dataset.labels, spec.validation, dataset.digest);
      const data: TrainingData = {
        exampleShape: dataset.exampleShape,
        classes: dataset.classLabels.length,
        train: side(dataset, split.train),
        validation: side(dataset, split.validation),
        maxValue: maxPixelValue(spec.data),
      };
      prepared.set(key, (p = { dataset, split, data }));
    }
    return p;
  };

  const skipped = async (variant: Variant, reason: string): Promise<void> => {
    results.set(variant.id, { status: 'skipped', reason, seconds: 0, attempt: '', startedAt: 0, finishedAt: 0 });
    await emit(listeners, 'onVariantSkipped', variant, reason);
  };

  /** Train a variant this process holds the claim of; its status. */
  let baseDigest: string | undefined;
  const train = async (variant: Variant, position: number, checkpoints?: VariantCheckpoints): Promise<VariantResult['status']> => {
    const started = performance.now();
    let attempt: string = randomUUID();
    let startedAt = Date.now();
    let info: VariantInfo | undefined;
    let result: VariantResult;
    try {
      if (taskOf(variant.spec) === 'generation') {
        const engine = await selectEngine(opts.engine, []);
        result = await withSeededMathRandom(variant.spec.training.seed, (random) =>
          trainDecoderVariant({
            engine,
            base: input.model.base as LlamaBase,
            experiment: input.experiment,
            dir: input.dir,
            variant,
            attempt,
            startedAt,
            position,
            total: variants.length,
            listeners,
            signal: opts.signal,
            cache: opts.featureCache,
            baseDigest: (baseDigest ??= baseModelDigest(input.model.base)),
            checkpoints,
            resumable: checkpoints && ((identity, steps) => resumable(variant, checkpoints, identity, steps)),
            random,
            // A resumed attempt keeps the interrupted one's id and start.
            started: (i) => {
              info = i;
              ({ attempt, startedAt } = i);
            },
          }),
        );
      } else {
        const { dataset, split, data } = await prepare(variant.spec);
        const cutIndex = input.model.cutIndexes.get(variant.id)!;
        const planned = planLayers(input.model.layers, cutIndex, variant.spec.head);
        const { frozen } = resolveFreezeRanges(planned, variant.spec.freeze);
        // Loading the engine draws from Math.random (seedrandom's start-up), so it happens before
        // the seeded window: otherwise the first variant of a process would train differently.
        const kernels = kernelsForTraining(planned, frozen.map((f) => !f));
        const engine = await selectEngine(opts.engine, kernels);
        const slow = slowEngineReason(opts.engine, engine.name, kernels);
        result = await withSeededMathRandom(variant.spec.training.seed, async (random) => {
          const spec = variant.spec;
          const setup = await setUpVariant({ engine, base: input.model.base, baseLayers: input.model.layers, cutIndex, spec, dataset, split, data, cache: opts.featureCache });
          try {
            const identity: CheckpointIdentity = {
              variant: variant.id,
              spec: sha256Hex([canonicalJson(variantIdentity(spec))]),
              base: (baseDigest ??= baseModelDigest(input.model.base)),
              data: split.digest,
              engine: `${engine.name} ${engine.version}`,
              features: setup.trainOn === setup.saved ? 'end to end' : 'on cached features',
            };
            const batches = Math.ceil(setup.data.train.y.length / spec.training.batch_size);
            const from = checkpoints && (await resumable(variant, checkpoints, identity, batches));
            if (from) ({ attempt, startedAt } = from);
            const host = arithmeticHost(engine.name);
            const otherHost = from && from.host !== host ? `checkpoint written on ${from.host ?? 'an unrecorded machine'}, resumed on ${host}` : undefined;
            if (otherHost) {
              await emit(listeners, 'onVariantNote', variant, `not bit for bit: ${otherHost}; native TensorFlow's kernels round differently across CPUs and thread counts, so this continues close to, not exactly as, an unbroken run`);
            }
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
              resumed: from && { ...resumePoint(from), epochs: spec.training.epochs, batches, ...(otherHost ? { inexact: otherHost } : {}) },
            };
            await emit(listeners, 'onVariantStart', info);
            const saving: LoopCheckpoints | undefined = checkpoints && {
              from,
              everySteps: spec.checkpoint.every_steps,
              save: (step, state, tensors) => checkpoints.save({ identity, attempt, startedAt, host, step, state, tensors }),
            };
            const outcome = await fitVariant(engine.tf, setup.trainOn, spec, setup.data, info, listeners, opts.signal, {
              limit: slow ? slowEngineLimit(slow) : undefined,
              checkpoints: saving,
              random,
            });
            const onnx = spec.export.onnx
              ? await setup.exportOnnx({ 'tunespec.variant': variant.id, 'tunespec.label': variant.label, 'tunespec.class_names': JSON.stringify(dataset.classNames) })
              : undefined;
            const model = { ...(await saveToMemory(engine.tf, setup.saved)), files: setup.modelFiles };
            return { status: 'completed' as const, ...outcome, model, baseGraph: setup.baseGraph, onnx, seconds: 0, attempt, startedAt, finishedAt: 0 };
          } finally {
            setup.dispose();
          }
        });
      }
    } catch (err) {
      result = { status: err instanceof Interrupted ? 'interrupted' : 'failed', reason: errorMessage(err), seconds: 0, attempt, startedAt, finishedAt: 0 };
      if (err instanceof VariantFailure) result.deterministic = true;
    }
    result.seconds = (performance.now() - started) / 1000;
    result.finishedAt = Date.now();
    results.set(variant.id, result);
    try {
      await emit(listeners, 'onVariantEnd', variant, result, info);
    } finally {
      // The store moved what it keeps out of it; nothing else is left to read it.
      if (result.outputDir) await rm(result.outputDir, { recursive: true, force: true });
    }
    return result.status;
  };

  /**
   * The checkpoint a variant resumes from, saying so (and why a newer one was passed over), or
   * undefined to train from scratch, when none is usable (those left are removed: new
   * checkpoints take their place) or `--restart` asks for it.
   */
  const resumable = async (variant: Variant, checkpoints: VariantCheckpoints, identity: CheckpointIdentity, batches: number): Promise<Checkpoint | undefined> => {
    const epochs = variant.spec.training.epochs;
    if (opts.restart) {
      const removed = await checkpoints.discard();
      if (removed) await emit(listeners, 'onVariantNote', variant, `--restart: training from scratch; removed ${removed} checkpoint(s)`);
      return undefined;
    }
    const found = await checkpoints.latest(identity);
    for (const note of found.notes) await emit(listeners, 'onVariantNote', variant, note);
    if (found.checkpoint) {
      await emit(listeners, 'onVariantNote', variant, `resuming ${describeResumePoint({ ...resumePoint(found.checkpoint), epochs, batches })}`);
      return found.checkpoint;
    }
    if (found.notes.length) await emit(listeners, 'onVariantNote', variant, 'no usable checkpoint: training from scratch');
    await checkpoints.discard();
    return undefined;
  };

  /** Train a claimed variant unless another process completed it meanwhile; the claim is given up either way. */
  const trainClaimed = async (variant: Variant, position: number, claim: Exclude<VariantClaim, { holder: string }>, heldBy?: string): Promise<VariantResult['status']> => {
    try {
      if (!claim.completedMeanwhile) return await train(variant, position, claim.checkpoints);
      await skipped(variant, `completed by ${heldBy ?? 'another process'} while this run ${heldBy ? 'waited' : 'started'}, in ${claim.completedMeanwhile}`);
      return 'skipped';
    } finally {
      await claim.release();
    }
  };

  const busy: { variant: Variant; position: number; holder: string }[] = [];
  let stopped = false;
  for (const [position, variant] of variants.entries()) {
    const skip = await opts.skipReason(variant);
    if (skip) {
      await skipped(variant, skip);
      continue;
    }
    const claim = opts.claims ? await opts.claims.claim(variant) : { release: async () => undefined };
    if ('holder' in claim) {
      busy.push({ variant, position, holder: claim.holder });
      await emit(listeners, 'onVariantNote', variant, `being trained by ${claim.holder}; this run trains the others first, then waits for it`);
      continue;
    }
    if ((await trainClaimed(variant, position, claim)) === 'interrupted') {
      stopped = true;
      break;
    }
  }
  for (const { variant, position, holder: first } of stopped ? [] : busy) {
    let holder = first;
    await emit(listeners, 'onVariantNote', variant, `waiting for ${holder} to finish it`);
    let claim: VariantClaim = { holder };
    while ('holder' in claim && !opts.signal.aborted) {
      await pause(CLAIM_POLL_MS, opts.signal);
      claim = await opts.claims!.claim(variant);
      if ('holder' in claim && claim.holder !== holder) {
        holder = claim.holder;
        await emit(listeners, 'onVariantNote', variant, `now held by ${holder}; waiting for it`);
      }
    }
    if ('holder' in claim) {
      // Interrupted while waiting: nothing of this variant was this process's to record.
      const reason = `interrupted while waiting for ${holder}`;
      results.set(variant.id, { status: 'interrupted', reason, seconds: 0, attempt: '', startedAt: 0, finishedAt: 0 });
      await emit(listeners, 'onVariantNote', variant, reason);
      break;
    }
    if ((await trainClaimed(variant, position, claim, holder)) === 'interrupted') break;
  }
  await emit(listeners, 'onSweepEnd', sweep, results);
  return results;
}
