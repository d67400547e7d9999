import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../engine/backends.ts';
import { cacheRoot } from '../engine/feature-cache.ts';
import { CacheRecords } from '../engine/cache-records.ts';
import type { TrainingSpec } from '../spec/types.ts';
import { createOptimizer } from './optimizer.ts';
import { trainStep } from './train-step.ts';

/** A first step longer than this is the measurement: a second one would only make `plan` slower. */
const WARM_UP_LIMIT_S = 2;
/** Seconds of timed steps after the first, when it was quick. */
const PROBE_BUDGET_S = 1;

/**
 * Seconds one training step of `model` takes on the current engine, on a batch of random inputs
 * of the spec's batch size (the step's cost does not depend on the values; `exampleShapes`, per
 * model input, where its shape is open): fit's step
 * (train/train-step.ts), its loss read back each time so the engine has finished it. The first
 * step builds the optimizer's slots and the engine's kernels (see medianSeconds).
 */
export async function probeStep(tf: Tf, model: TF.LayersModel, t: TrainingSpec, classes: number, exampleShapes?: readonly number[][]): Promise<number> {
  const optimizer = createOptimizer(tf, t);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const train = trainStep(tf, model, classes);
  const batch = t.batch_size;
  const x = model.inputs.map((input, i) => {
    // A text encoder's inputs take any length: `exampleShapes` gives the one training uses.
    const shape = [batch, ...(exampleShapes?.[i] ?? (input.shape.slice(1) as number[]))];
    return input.dtype === 'int32' ? tf.zeros(shape, 'int32') : tf.randomNormal(shape, 0, 1, 'float32', 1);
  });
  const labels = new Int32Array(batch);
  try {
    return await medianSeconds(async () => {
      const { loss, correct } = await train(x.length === 1 ? x[0] : x, labels);
      await loss.data();
      tf.dispose([loss, correct]);
    });
  } finally {
    tf.dispose(x);
    optimizer.dispose();
  }
}

/**
 * Seconds one call of `work` takes, as a long run sees it. The first call builds kernels, slots and
 * memory pools: when it is slow it is the measurement (more would only make `plan` slower); when
 * quick, the median of up to ten more within about a second, since engines keep warming up over
 * the first calls.
 */
export async function medianSeconds(work: () => Promise<void>): Promise<number> {
  const timed = async (): Promise<number> => {
    const started = performance.now();
    await work();
    return (performance.now() - started) / 1000;
  };
  const first = await timed();
  if (first > WARM_UP_LIMIT_S) return first;
  const times: number[] = [];
  for (let spent = 0; times.length < 10 && (times.length < 2 || spent < PROBE_BUDGET_S); ) {
    times.push(await timed());
    spent += times.at(-1)!;
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** A probe as stored: the step's seconds, and on what it was measured. */
export interface ProbeRecord {
  /** The whole step: the frozen prefix's batch on onnxruntime (when `prefix`) and the trained layers' step. */
  stepSeconds: number;
  /** Where the frozen layers run on onnxruntime each batch (--no-feature-cache, augmentation): their part. */
  prefix?: { boundary: string; engine: string; seconds: number };
  engine: string;
  measuredAt: string;
}

/**
 * Measured steps on disk under the cache root (`step-probes/`), by a key naming the model, the
 * engine and the batch shape, so `plan` probes each once per machine. Unreadable entries are
 * measured again; a write that fails costs only the next plan's probe.
 */
export class StepProbeCache {
  private readonly records: CacheRecords<ProbeRecord>;

  constructor(readonly dir: string) {
    this.records = new CacheRecords(dir, (r): r is ProbeRecord => typeof (r as ProbeRecord)?.stepSeconds === 'number' && (r as ProbeRecord).stepSeconds >= 0);
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): StepProbeCache {
    return new StepProbeCache(join(cacheRoot(env), 'step-probes'));
  }

  get(key: string): Promise<ProbeRecord | undefined> {
    return this.records.read(key);
  }

  put(key: string, record: ProbeRecord): Promise<void> {
    return this.records.write(key, record);
  }
}
