import { randomBytes } from 'node:crypto';
import { appendFile, cp, mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { InternalError, StoreError } from '../errors.ts';
import type { Variant } from '../plan/expand.ts';
import type { EpochMetrics, SweepInfo, SweepListener, VariantClaim, VariantClaims, VariantInfo, VariantResult } from '../train/events.ts';
import type { SavedModel } from '../model/save.ts';
import { replaceDir, restoreReplaced, writeFileAtomic } from '../atomic-file.ts';
import { VariantLock } from './variant-lock.ts';
import { CheckpointStore, checkpointBytes, checkpointsDir } from './checkpoint-store.ts';
import { parseEpochLines, readStoreFile, readStoreText, STORE_FORMAT, type StoreRecord } from './store-format.ts';
import { redactUrlsIn } from '../net/redact.ts';
import { flattenParams } from './params.ts';
import type { Provenance } from './provenance.ts';

/**
 * The run store's records, typed from their schema (store-format.ts). JSON holds NaN and the
 * infinities (a diverged loss) as null; metrics are read back as NaN, so every reader gets numbers.
 */
export type StatusRecord = StoreRecord<'status'>;
export type ResultRecord = Omit<StoreRecord<'result'>, 'metrics'> & { metrics: EpochMetrics };
export type SweepRecord = StoreRecord<'sweep'>;
/** One line of metrics.jsonl: an epoch's metrics and when it ended (epoch milliseconds). */
export type EpochRecord = StoreRecord<'epoch'> & EpochMetrics;

/** Metrics as JSON held them (null for NaN and the infinities), as numbers again. */
function revived<T extends object>(metrics: T): T & EpochMetrics {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, v ?? NaN])) as T & EpochMetrics;
}

/** One stored attempt of a variant: its folder and the records in it. */
export interface StoredVariant {
  dir: string;
  status: StatusRecord;
  result?: ResultRecord;
}

/** Extra files for a finished variant (charts, say), composed in by the caller. */
export type ArtifactRenderer = (v: {
  variant: Variant;
  history: EpochRecord[];
  result: VariantResult;
  classNames: string[];
}) => Record<string, Uint8Array> | Promise<Record<string, Uint8Array>>;

export const METRICS_FILE = 'metrics.jsonl';
/** A variant's ONNX export, next to its tfjs `model/`. */
export const ONNX_FILE = 'model.onnx';
/** For a variant on an ONNX base: the base cut where its tfjs model (the head) starts. */
export const BASE_ONNX_FILE = 'base.onnx';
/** Where a completed variant keeps its last checkpoints, when its spec's `checkpoint.keep` asks for some. */
export const CHECKPOINTS_FOLDER = 'checkpoints';

/** An epoch as every sink records it: numbered from 1, stamped with when it ended. */
export function epochRecord(epoch: number, metrics: EpochMetrics, at: number): EpochRecord {
  return { epoch: epoch + 1, timestamp: at, ...metrics };
}

/** A variant's epochs as metrics.jsonl holds them (none when it has no such file), read at the variant's format. */
export async function readHistory(dir: string, format = STORE_FORMAT): Promise<EpochRecord[]> {
  const file = join(dir, METRICS_FILE);
  return parseEpochLines(file, (await readStoreText(file)) ?? '', format).map(revived);
}

/** The run store format a stored attempt was written in. */
export const formatOfVariant = (v: StoredVariant): number => v.status.format ?? 1;

/** A stored attempt's params.json: its resolved spec as flat `dotted.key: value` strings. */
export async function readParams(v: StoredVariant): Promise<Record<string, string>> {
  const file = join(v.dir, 'params.json');
  const params = await readStoreFile('params', file, formatOfVariant(v));
  if (!params) throw new StoreError(file, 'missing: the variant folder is incomplete');
  return params;
}

/** A folder's entries, or none when it does not exist (or is a file). */
export async function entriesOf(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new StoreError(dir, `cannot list: ${(err as Error).message}`);
  }
}

function metricsCsv(history: EpochRecord[]): string {
  const keys = [...new Set(history.flatMap((r) => Object.keys(r)))];
  return [keys.join(','), ...history.map((r) => keys.map((k) => r[k] ?? '').join(','))].join('\n') + '\n';
}

/** The attempt stored in one variant folder, or undefined when there is none (yet); a damaged or newer record is an error naming its file. */
export async function readStoredVariant(dir: string): Promise<StoredVariant | undefined> {
  const status = await readStoreFile('status', join(dir, 'status.json'));
  if (!status) return undefined;
  const result = await readStoreFile('result', join(dir, 'result.json'), status.format ?? 1);
  return { dir, status, result: result && { ...result, metrics: revived(result.metrics) } };
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
  for (const name of await entriesOf(sweepDir)) {
    const stored = name.startsWith('.') ? undefined : await readStoredVariant(join(sweepDir, name));
    if (stored) out.push(stored);
  }
  return out;
}

export async function readSweepRecord(sweepDir: string): Promise<SweepRecord | undefined> {
  return readStoreFile('sweep', join(sweepDir, 'sweep.json'));
}

/** Write a trained model the way tfjs's file:// handler does, so `tf.loadLayersModel` reads it back. */
export async function writeModel(dir: string, model: SavedModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.bin'), new Uint8Array(model.weightData));
  const json = {
    format: 'layers-model',
    generatedBy: 'tunespec',
    modelTopology: model.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: model.weightSpecs }],
  };
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
}

/** Move every entry of `from` into `to` (a rename; a copy where they are on different file systems). */
async function moveEntries(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    try {
      await rename(join(from, name), join(to, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await cp(join(from, name), join(to, name), { recursive: true });
    }
  }
}

/** Hidden folders a variant's attempts leave in a sweep folder while they run (or after they died). */
function leftoverOf(name: string): string | undefined {
  return /^\.(?:staging|replaced)-([0-9a-f]{12})(?:-|$)/.exec(name)?.[1];
}

/**
 * The embedded default tracker: `runs/<experiment>/<sweep-id>/<variant-id>/`. A variant is written
 * into a hidden staging folder of its own attempt and renamed into place when it ends, so a crash
 * never leaves a folder that looks complete. Processes sharing a run store (two terminals, array
 * tasks, queue workers) train a variant only while holding its lock
 * (`<experiment>/.lock-<variant-id>`), so no two write one variant, and nobody removes
 * what a live process is writing.
 */
export class LocalRunStore implements SweepListener, VariantClaims {
  private sweepDir = '';
  private experiment = '';
  private sweepRecord?: SweepRecord;
  private staging = new Map<string, string>();

  constructor(
    readonly root: string,
    private readonly opts: {
      render?: ArtifactRenderer;
      provenance?: Provenance;
      /** Where the store says what it recovered or kept (a dead process's lock, a completed result it did not replace). */
      note?: (line: string) => void;
    } = {},
  ) {}

  experimentDir(experiment: string): string {
    return join(this.root, experiment);
  }

  /** Every stored attempt of every variant of an experiment, across sweeps. */
  async list(experiment: string): Promise<StoredVariant[]> {
    const exp = this.experimentDir(experiment);
    const out: StoredVariant[] = [];
    for (const sweep of await entriesOf(exp)) {
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
    this.experiment = sweep.experiment;
    this.sweepDir = join(this.experimentDir(sweep.experiment), sweep.sweepId);
    await mkdir(this.sweepDir, { recursive: true });
    await this.sweepLeftovers(sweep.variants);
    await writeFileAtomic(join(this.sweepDir, 'spec.yaml'), redactUrlsIn(sweep.specText));
    this.sweepRecord = {
      format: STORE_FORMAT,
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
    // A variant lock in the experiment: another process is training (or starting to), perhaps this very sweep.
    const locked = (await readdir(dirname(this.sweepDir)).catch(() => [] as string[])).some((e) => e.startsWith('.lock-'));
    if (!locked && entries.every((e) => e === 'spec.yaml' || e === 'sweep.json')) {
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
    for (const name of await entriesOf(exp)) {
      const record = await readSweepRecord(join(exp, name));
      if (record) out.push({ dir: join(exp, name), record });
    }
    return out.sort((a, b) => b.record.started.localeCompare(a.record.started));
  }

  private lockPath(variantId: string): string {
    return join(this.experimentDir(this.experiment), `.lock-${variantId}`);
  }

  /**
   * Remove what dead attempts of a variant left in the current sweep folder (staging folders; a
   * result parked by a replace that died half-way goes back). Only while holding its lock.
   */
  private async clearLeftovers(variantId: string): Promise<string[]> {
    const target = join(this.sweepDir, variantId);
    const parked = await restoreReplaced(target);
    const staged = (await readdir(this.sweepDir).catch(() => [] as string[])).filter((n) => n.startsWith('.staging-') && leftoverOf(n) === variantId);
    for (const name of staged) await rm(join(this.sweepDir, name), { recursive: true, force: true });
    return [...staged, ...parked];
  }

  private sayRecovered(who: string, recovered: string | undefined, removed: string[]): void {
    const cleared = (whose: string): string => `removed ${whose} unfinished attempt(s) ${removed.join(', ')}`;
    if (recovered) this.opts.note?.(`${who}: ${recovered}${removed.length ? `; ${cleared('its')}` : ''}`);
    else if (removed.length) this.opts.note?.(`${who}: ${cleared('the')}, left by an earlier run`);
  }

  /** What dead processes left in this sweep folder, for variants nobody alive holds (whatever this run will train). */
  private async sweepLeftovers(variants: readonly Variant[]): Promise<void> {
    const ids = new Set((await readdir(this.sweepDir)).map(leftoverOf).filter((id): id is string => !!id));
    for (const id of ids) {
      const got = await VariantLock.tryAcquire(this.lockPath(id));
      if ('holder' in got) continue;
      try {
        const v = variants.find((x) => x.id === id);
        this.sayRecovered(v ? `${v.label} (${id})` : id, got.recovered, await this.clearLeftovers(id));
      } finally {
        await got.lock.release();
      }
    }
  }

  /** A completed attempt of the variant stored (in any sweep of the experiment) since `since` (epoch ms). */
  async completedSince(experiment: string, variantId: string, since: number): Promise<StoredVariant | undefined> {
    const exp = this.experimentDir(experiment);
    for (const sweep of await readdir(exp).catch(() => [] as string[])) {
      const stored = sweep.startsWith('.') ? undefined : await readStoredVariant(join(exp, sweep, variantId));
      if (stored?.status.status === 'completed' && Date.parse(stored.status.finished) >= since) return stored;
    }
    return undefined;
  }

  /** The right to train `variant` into this store: its lock, or who holds it. */
  async claim(variant: Variant): Promise<VariantClaim> {
    const got = await VariantLock.tryAcquire(this.lockPath(variant.id));
    if ('holder' in got) return { holder: got.holder };
    try {
      this.sayRecovered(`${variant.label} (${variant.id})`, got.recovered, await this.clearLeftovers(variant.id));
      const meanwhile = await this.completedSince(this.experiment, variant.id, Date.parse(this.current().record.started));
      return {
        release: () => got.lock.release(),
        completedMeanwhile: meanwhile?.dir,
        checkpoints: new CheckpointStore(checkpointsDir(this.experimentDir(this.experiment), variant.id)),
      };
    } catch (err) {
      await got.lock.release();
      throw err;
    }
  }

  private async stage(variant: Variant): Promise<string> {
    let dir = this.staging.get(variant.id);
    if (!dir) {
      // Named for this attempt alone: a staging folder is never shared, so never removed under a live writer.
      dir = join(this.sweepDir, `.staging-${variant.id}-${process.pid}-${randomBytes(4).toString('hex')}`);
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
    // A resumed attempt's metrics.jsonl starts with the epochs its checkpoint holds, as they were recorded.
    if (info.resumed) await writeFile(join(dir, METRICS_FILE), info.resumed.history.map((h) => JSON.stringify(epochRecord(h.epoch, h.metrics, h.at)) + '\n').join(''));
  }

  /** The checkpoints a variant not yet completed left in an experiment (interrupted, killed): how many, their bytes. */
  checkpointSize(experiment: string, variantId: string): Promise<{ count: number; bytes: number; newest?: number }> {
    return checkpointBytes(checkpointsDir(this.experimentDir(experiment), variantId));
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
    // At the variant's top level, beside model.onnx and serving model/ too: either export is usable
    // with only the files next to it (format 2 kept them inside model/; readers look there as well).
    for (const [name, bytes] of Object.entries(result.model?.files ?? {})) await writeFile(join(dir, name), bytes);
    if (result.onnx?.bytes) await writeFile(join(dir, ONNX_FILE), result.onnx.bytes);
    if (result.baseGraph) await writeFile(join(dir, BASE_ONNX_FILE), result.baseGraph);
    if (result.outputDir) await moveEntries(result.outputDir, dir);
    if (history.length) await writeFile(join(dir, 'metrics.csv'), metricsCsv(history));
    if (result.metrics) {
      await writeFile(join(dir, 'result.json'), JSON.stringify({ metrics: result.metrics, confusion: result.confusion, class_names: classNames }, null, 2));
    }
    if (result.confusion) await writeFile(join(dir, 'confusion_matrix.json'), JSON.stringify({ class_names: classNames, matrix: result.confusion }, null, 2));
    for (const [name, data] of Object.entries((await this.opts.render?.({ variant, history, result, classNames })) ?? {})) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), data);
    }
    if (result.status === 'completed') {
      // Checkpoints are for finishing; once finished, only those the spec asks to keep stay, with the result.
      await new CheckpointStore(checkpointsDir(this.experimentDir(this.experiment), variant.id)).settle(variant.spec.checkpoint?.keep ?? 0, join(dir, CHECKPOINTS_FOLDER));
    }
    const status: StatusRecord = {
      format: STORE_FORMAT,
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
      model: result.status === 'completed' ? result.modelRecord : undefined,
    };
    await writeFile(join(dir, 'status.json'), JSON.stringify(status, null, 2));
    const target = join(this.sweepDir, variant.id);
    // Only a completed attempt may replace a completed one (`--force` that was interrupted or failed).
    if (result.status !== 'completed' && (await readStoredVariant(target))?.status.status === 'completed') {
      await rm(dir, { recursive: true, force: true });
      this.opts.note?.(`${variant.label} (${variant.id}): this attempt was ${result.status}; the completed result in ${target} stays`);
      return;
    }
    await replaceDir(dir, target);
  }
}
