import { appendFile, mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { InternalError } from '../errors.ts';
import type { Variant } from '../plan/expand.ts';
import type { EpochMetrics, SweepInfo, SweepListener, VariantInfo, VariantResult } from '../train/events.ts';
import type { SavedModel } from '../model/save.ts';
import { replaceDir, writeFileAtomic } from './atomic.ts';
import { redactUrlsIn } from '../net/redact.ts';
import { flattenParams } from './params.ts';
import type { Provenance } from './provenance.ts';
import type { OnnxExportResult } from '../train/onnx-parity.ts';

export interface StoredVariant {
  dir: string;
  status: {
    status: string;
    reason?: string;
    variant: string;
    label: string;
    sweep: string;
    attempt: string;
    seconds: number;
    started: string;
    finished: string;
    engine?: VariantInfo['engine'];
    featureCache?: VariantInfo['featureCache'];
    onnx?: { parity?: NonNullable<OnnxExportResult['parity']>; skipped?: string };
    split?: VariantInfo['split'];
    data?: VariantInfo['data'];
  };
  result?: { metrics: EpochMetrics; confusion: number[][]; class_names: string[] };
}

/** One line of metrics.jsonl: an epoch's metrics and when it ended (epoch milliseconds). */
export type EpochRecord = { epoch: number; timestamp: number } & EpochMetrics;

export interface SweepRecord {
  sweep: string;
  experiment: string;
  spec: string;
  variants: { id: string; label: string; overrides: Record<string, unknown> }[];
  started: string;
  provenance?: Provenance;
  /** Set when the sweep process ended, however it ended; absent while running or after a crash. */
  finished?: string;
}

/** Extra files for a finished variant (charts, say), composed in by the caller. */
export type ArtifactRenderer = (v: {
  variant: Variant;
  history: EpochRecord[];
  result: VariantResult;
  classNames: string[];
}) => Record<string, Uint8Array>;

export const METRICS_FILE = 'metrics.jsonl';
/** A variant's ONNX export, next to its tfjs `model/`. */
export const ONNX_FILE = 'model.onnx';
/** For a variant on an ONNX base: the base cut where its tfjs model (the head) starts. */
export const BASE_ONNX_FILE = 'base.onnx';

/** An epoch as every sink records it: numbered from 1, stamped with when it ended. */
export function epochRecord(epoch: number, metrics: EpochMetrics, at: number): EpochRecord {
  return { epoch: epoch + 1, timestamp: at, ...metrics };
}

export async function readHistory(dir: string): Promise<EpochRecord[]> {
  const text = await readFile(join(dir, METRICS_FILE), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EpochRecord);
}

function metricsCsv(history: EpochRecord[]): string {
  const keys = [...new Set(history.flatMap((r) => Object.keys(r)))];
  return [keys.join(','), ...history.map((r) => keys.map((k) => r[k] ?? '').join(','))].join('\n') + '\n';
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The attempt stored in one variant folder, or undefined when there is none (yet). */
export async function readStoredVariant(dir: string): Promise<StoredVariant | undefined> {
  const status = await readJson<StoredVariant['status']>(join(dir, 'status.json'));
  return status && { dir, status, result: await readJson(join(dir, 'result.json')) };
}

/** The class names a stored attempt was trained with (status.json, else result.json), or undefined. */
export function storedClassNames(v: StoredVariant): string[] | undefined {
  return v.status.data?.classNames ?? v.result?.class_names;
}

/** The newest stored attempt of a variant among `variants` (sweeps of one experiment, say). */
export function latestAttempt(variants: readonly StoredVariant[], variantId: string): StoredVariant | undefined {
  return variants.filter((v) => v.status.variant === variantId).sort((a, b) => b.status.finished.localeCompare(a.status.finished))[0];
}

/** The finished attempts stored in one sweep folder (staging folders of running variants left out). */
export async function storedVariants(sweepDir: string): Promise<StoredVariant[]> {
  const out: StoredVariant[] = [];
  for (const name of await readdir(sweepDir).catch(() => [] as string[])) {
    const stored = name.startsWith('.') ? undefined : await readStoredVariant(join(sweepDir, name));
    if (stored) out.push(stored);
  }
  return out;
}

export async function readSweepRecord(sweepDir: string): Promise<SweepRecord | undefined> {
  return readJson<SweepRecord>(join(sweepDir, 'sweep.json'));
}

/** Write a trained model the way tfjs's file:// handler does, so `tf.loadLayersModel` reads it back. */
export async function writeModel(dir: string, model: SavedModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.bin'), new Uint8Array(model.weightData));
  for (const [name, bytes] of Object.entries(model.files ?? {})) await writeFile(join(dir, name), bytes);
  const json = {
    format: 'layers-model',
    generatedBy: 'tunespec',
    modelTopology: model.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: model.weightSpecs }],
  };
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
}

/**
 * The embedded default tracker: `runs/<experiment>/<sweep-id>/<variant-id>/`. A variant is written
 * into a hidden staging folder and renamed into place when it ends, so a crash never leaves a
 * folder that looks complete.
 */
export class LocalRunStore implements SweepListener {
  private sweepDir = '';
  private sweepRecord?: SweepRecord;
  private staging = new Map<string, string>();

  constructor(
    readonly root: string,
    private readonly opts: {
      render?: ArtifactRenderer;
      provenance?: Provenance;
      /** Other processes stage variants of the same sweep here (queue workers sharing a run store): leave their staging folders alone. */
      sharedSweeps?: boolean;
    } = {},
  ) {}

  experimentDir(experiment: string): string {
    return join(this.root, experiment);
  }

  /** Every stored attempt of every variant of an experiment, across sweeps. */
  async list(experiment: string): Promise<StoredVariant[]> {
    const exp = this.experimentDir(experiment);
    const out: StoredVariant[] = [];
    for (const sweep of await readdir(exp).catch(() => [] as string[])) {
      if (!sweep.startsWith('.')) out.push(...(await storedVariants(join(exp, sweep))));
    }
    return out;
  }

  /** Completed attempts by variant id: read once per run, not once per variant. */
  async completed(experiment: string): Promise<Map<string, StoredVariant>> {
    const done = (await this.list(experiment)).filter((v) => v.status.status === 'completed');
    return new Map(done.map((v) => [v.status.variant, v]));
  }

  async onSweepStart(sweep: SweepInfo): Promise<void> {
    this.sweepDir = join(this.experimentDir(sweep.experiment), sweep.sweepId);
    await mkdir(this.sweepDir, { recursive: true });
    // Staging folders of a process that died are garbage: nothing in them ever completed.
    for (const name of this.opts.sharedSweeps ? [] : await readdir(this.sweepDir)) {
      if (name.startsWith('.staging-')) await rm(join(this.sweepDir, name), { recursive: true, force: true });
    }
    await writeFileAtomic(join(this.sweepDir, 'spec.yaml'), redactUrlsIn(sweep.specText));
    this.sweepRecord = {
      sweep: sweep.sweepId,
      experiment: sweep.experiment,
      spec: sweep.specFile,
      variants: sweep.variants.map((v) => ({ id: v.id, label: v.label, overrides: v.overrides })),
      started: new Date().toISOString(),
      provenance: this.opts.provenance,
    };
    await writeFileAtomic(join(this.sweepDir, 'sweep.json'), JSON.stringify(this.sweepRecord, null, 2));
  }

  /** The sweep being written: what trackers that follow the store read back. */
  current(): { dir: string; record: SweepRecord } {
    if (!this.sweepRecord) throw new InternalError('no sweep has started');
    return { dir: this.sweepDir, record: this.sweepRecord };
  }

  /** Remove the current sweep folder when no variant ever reached it: a sweep that never started leaves nothing behind. */
  async discardIfEmpty(): Promise<void> {
    if (!this.sweepRecord) return;
    const entries = await readdir(this.sweepDir).catch(() => [] as string[]);
    if (entries.every((e) => e === 'spec.yaml' || e === 'sweep.json')) {
      await rm(this.sweepDir, { recursive: true, force: true });
      // The experiment folder goes too if this sweep made it; rmdir refuses when others live there.
      await rmdir(dirname(this.sweepDir)).catch(() => undefined);
    }
    this.sweepRecord = undefined;
  }

  async onSweepEnd(): Promise<void> {
    if (!this.sweepRecord) return;
    this.sweepRecord.finished = new Date().toISOString();
    await writeFileAtomic(join(this.sweepDir, 'sweep.json'), JSON.stringify(this.sweepRecord, null, 2));
  }

  /** The sweeps of an experiment, newest first. */
  async sweeps(experiment: string): Promise<{ dir: string; record: SweepRecord }[]> {
    const exp = this.experimentDir(experiment);
    const out: { dir: string; record: SweepRecord }[] = [];
    for (const name of await readdir(exp).catch(() => [] as string[])) {
      const record = await readSweepRecord(join(exp, name));
      if (record) out.push({ dir: join(exp, name), record });
    }
    return out.sort((a, b) => b.record.started.localeCompare(a.record.started));
  }

  private async stage(variant: Variant): Promise<string> {
    let dir = this.staging.get(variant.id);
    if (!dir) {
      dir = join(this.sweepDir, `.staging-${variant.id}`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'spec.yaml'), stringify(variant.spec));
      await writeFile(join(dir, 'params.json'), JSON.stringify(flattenParams(variant.spec), null, 2));
      this.staging.set(variant.id, dir);
    }
    return dir;
  }

  async onVariantStart(info: VariantInfo): Promise<void> {
    const dir = await this.stage(info.variant);
    await writeFile(join(dir, 'layers.json'), JSON.stringify(info.layers, null, 2));
  }

  async onEpochEnd(info: VariantInfo, epoch: number, metrics: EpochMetrics, at: number): Promise<void> {
    await appendFile(join(await this.stage(info.variant), METRICS_FILE), JSON.stringify(epochRecord(epoch, metrics, at)) + '\n');
  }

  async onVariantEnd(variant: Variant, result: VariantResult, info?: VariantInfo): Promise<void> {
    const dir = await this.stage(variant);
    // The epochs as written to metrics.jsonl, rather than a second copy kept in memory.
    const history = await readHistory(dir);
    this.staging.delete(variant.id);
    const classNames = info?.data.classNames ?? [];
    if (result.model) await writeModel(join(dir, 'model'), result.model);
    if (result.onnx?.bytes) await writeFile(join(dir, ONNX_FILE), result.onnx.bytes);
    if (result.baseGraph) await writeFile(join(dir, BASE_ONNX_FILE), result.baseGraph);
    if (history.length) await writeFile(join(dir, 'metrics.csv'), metricsCsv(history));
    if (result.metrics) {
      await writeFile(join(dir, 'result.json'), JSON.stringify({ metrics: result.metrics, confusion: result.confusion, class_names: classNames }, null, 2));
    }
    if (result.confusion) await writeFile(join(dir, 'confusion_matrix.json'), JSON.stringify({ class_names: classNames, matrix: result.confusion }, null, 2));
    for (const [name, data] of Object.entries(this.opts.render?.({ variant, history, result, classNames }) ?? {})) await writeFile(join(dir, name), data);
    const status: StoredVariant['status'] = {
      status: result.status,
      reason: result.reason,
      variant: variant.id,
      label: variant.label,
      sweep: this.sweepDir.split('/').pop()!,
      attempt: result.attempt,
      seconds: result.seconds,
      started: new Date(result.startedAt).toISOString(),
      finished: new Date(result.finishedAt).toISOString(),
      engine: info?.engine,
      featureCache: info?.featureCache,
      onnx: result.onnx && { parity: result.onnx.parity, skipped: result.onnx.skipped },
      split: info?.split,
      data: info?.data,
    };
    await writeFile(join(dir, 'status.json'), JSON.stringify(status, null, 2));
    await replaceDir(dir, join(this.sweepDir, variant.id));
  }
}
