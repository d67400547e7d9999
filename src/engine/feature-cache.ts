import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { InternalError, UsageError } from '../errors.ts';
import { writeFileAtomic } from '../atomic-file.ts';
import { denseRows, rowSize, type RowSource } from '../data/rows.ts';

/** What an entry records besides its features: enough to list it and to say what a hit saves. */
export interface FeatureEntryMeta {
  key: string;
  /** The layer whose output was cached. */
  boundary: string;
  /** Shape of one example's features. */
  shape: number[];
  rows: number;
  /** What computed them: onnxruntime-node or a tfjs engine, with versions. */
  engine: string;
  /** Wall time the computation took: what each later hit saves. */
  seconds: number;
  createdAt: string;
}

export interface FeatureEntry extends FeatureEntryMeta {
  bytes: number;
  lastUsed: Date;
}

export const DEFAULT_CACHE_MAX = 10 * 2 ** 30;

/**
 * Entries up to this size are read whole and held; larger ones stay on disk and each gather
 * reads its rows from the file (the OS's page cache keeps them warm), so memory does not grow
 * with the dataset. 64 MiB: the bench's pooled 10,000-image entry (51 MB) is held, and at twice
 * the data a held entry would already add a fifth to the sweep's peak memory
 * (bench/memory-scaling.ts: 653 -> 796 MiB at 256 MiB).
 */
export const DEFAULT_HOLD_BYTES = 64 * 2 ** 20;

/** An entry opened for reading by row. */
export interface OpenEntry {
  meta: FeatureEntryMeta;
  rows: RowSource;
}

/** An entry being computed: rows appended batch by batch to a temporary file, then made whole at once. */
export interface EntryWriter {
  append(rows: Float32Array): void;
  /** Makes the entry (features, then metadata) and opens it; `meta.rows` must match what was appended. */
  commit(meta: FeatureEntryMeta): Promise<OpenEntry>;
  /** Drops what was appended. */
  abort(): Promise<void>;
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** "500M", "10G", "1.5T" or a byte count. */
export function parseSize(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`${what} must be a size such as 500M or 10G; got "${text}"`);
  return Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]);
}

/** tunespec's caches' home: TUNESPEC_CACHE_DIR when set, else the XDG cache's `tunespec/` folder. */
export function cacheRoot(env: NodeJS.ProcessEnv): string {
  return env.TUNESPEC_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tunespec');
}

/** The feature cache: TUNESPEC_CACHE_DIR itself when set (its layout predates the other caches), else `features/` in the root. */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  return env.TUNESPEC_CACHE_DIR || join(cacheRoot(env), 'features');
}

/**
 * The file's bytes straight into a Float32Array (no Buffer pool, so aligned, and no second copy),
 * or undefined when it is missing or not exactly `bytes` long.
 */
async function readExactly(path: string, bytes: number): Promise<Float32Array | undefined> {
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return undefined;
  try {
    if ((await file.stat()).size !== bytes) return undefined;
    const out = new Float32Array(bytes / 4);
    const view = new Uint8Array(out.buffer);
    for (let at = 0; at < bytes; ) {
      const { bytesRead } = await file.read(view, at, bytes - at, at);
      if (!bytesRead) return undefined;
      at += bytesRead;
    }
    return out;
  } finally {
    await file.close();
  }
}

/**
 * Frozen-layer activations on disk, content-addressed: the key names the weights, the cut, the
 * data and the engine, so a changed input can never read another's entry. An entry is its
 * features file plus a metadata file written last; readers trust only entries whose metadata
 * exists and whose features have the size it declares, so a crashed or racing writer leaves
 * either nothing or a whole entry. Eviction is least recently used, by the metadata's mtime.
 */
export class FrozenFeatureCache {
  /**
   * The entry last read or written, kept for the rest of the process: a sweep's variants share
   * one, so it is read from disk once per sweep, and every variant gets the same array (which
   * callers only read). One entry, so memory stays at one entry whatever the sweep.
   */
  private held?: { meta: FeatureEntryMeta; features: Float32Array };

  /** The large entry last opened: its file stays open for its rows' gathers until another takes its place. */
  private opened?: { key: string; file: OpenFile };

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    readonly holdBytes: number = DEFAULT_HOLD_BYTES,
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): FrozenFeatureCache {
    const max = env.TUNESPEC_CACHE_MAX ? parseSize(env.TUNESPEC_CACHE_MAX, 'TUNESPEC_CACHE_MAX') : DEFAULT_CACHE_MAX;
    return new FrozenFeatureCache(defaultCacheDir(env), max);
  }

  private paths(key: string): { data: string; meta: string } {
    return { data: join(this.dir, `${key}.f32`), meta: join(this.dir, `${key}.json`) };
  }

  /** An entry's metadata, or undefined when it has none (missing, or removed meanwhile). */
  private async readMeta(key: string): Promise<FeatureEntryMeta | undefined> {
    try {
      return JSON.parse(await readFile(this.paths(key).meta, 'utf8')) as FeatureEntryMeta;
    } catch {
      return undefined;
    }
  }

  async get(key: string): Promise<{ meta: FeatureEntryMeta; features: Float32Array } | undefined> {
    const p = this.paths(key);
    const meta = await this.readMeta(key);
    if (!meta) return undefined;
    const expected = meta.rows * rowSize(meta.shape) * 4;
    const now = new Date();
    if (this.held?.meta.key === key && this.held.features.byteLength === expected) {
      await utimes(p.meta, now, now).catch(() => undefined);
      return this.held;
    }
    const features = await readExactly(p.data, expected);
    if (!features) return undefined;
    await utimes(p.meta, now, now).catch(() => undefined);
    this.held = { meta, features };
    return this.held;
  }

  /**
   * An entry to read by row, or undefined when it is missing or damaged: held in memory up to
   * `holdBytes` (as get holds it), else read from its file by each gather.
   */
  async open(key: string): Promise<OpenEntry | undefined> {
    const p = this.paths(key);
    const meta = await this.readMeta(key);
    if (!meta) return undefined;
    const width = rowSize(meta.shape);
    const expected = meta.rows * width * 4;
    if (expected <= this.holdBytes) {
      const whole = await this.get(key);
      return whole && { meta: whole.meta, rows: denseRows(whole.features, whole.meta.shape) };
    }
    if (this.opened?.key !== key) {
      let fd: number;
      try {
        fd = openSync(p.data, 'r');
      } catch {
        return undefined;
      }
      if (fstatSync(fd).size !== expected) {
        closeSync(fd);
        return undefined;
      }
      this.closeOpened();
      this.opened = { key, file: { fd, closed: false } };
    }
    const now = new Date();
    await utimes(p.meta, now, now).catch(() => undefined);
    return { meta, rows: fileRows(this.opened.file, meta.rows, meta.shape) };
  }

  private closeOpened(): void {
    if (this.opened) {
      closeSync(this.opened.file.fd);
      this.opened.file.closed = true;
    }
    this.opened = undefined;
  }

  /** A new entry, written batch by batch; readers see nothing of it until commit. */
  async begin(key: string): Promise<EntryWriter> {
    await mkdir(this.dir, { recursive: true });
    const p = this.paths(key);
    const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
    const temp = `${p.data}.tmp-${tag}`;
    let fd: number | undefined = openSync(temp, 'w');
    let bytes = 0;
    const close = () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    };
    return {
      append: (rows) => {
        if (fd === undefined) throw new InternalError('appending to a feature-cache entry already closed');
        const view = new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
        for (let at = 0; at < view.length; ) at += writeSync(fd, view, at, view.length - at);
        bytes += view.length;
      },
      commit: async (meta) => {
        close();
        if (bytes !== meta.rows * rowSize(meta.shape) * 4) {
          await rm(temp, { force: true });
          throw new InternalError(`feature-cache entry ${key}: ${bytes} bytes written, its metadata declares ${meta.rows} rows of ${meta.shape.join('x')}`);
        }
        if (this.opened?.key === key) this.closeOpened();
        if (this.held?.meta.key === key) this.held = undefined;
        await rename(temp, p.data);
        await this.publish(key, meta);
        const entry = await this.open(key);
        if (!entry) throw new InternalError(`feature-cache entry ${key} vanished as it was written`);
        return entry;
      },
      abort: async () => {
        close();
        await rm(temp, { force: true });
      },
    };
  }

  /** Stores an entry (features first, metadata last), then evicts down to the cap, never this entry. */
  async put(meta: FeatureEntryMeta, features: Float32Array): Promise<void> {
    await writeFileAtomic(this.paths(meta.key).data, new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
    this.held = { meta, features };
    await this.publish(meta.key, meta);
  }

  /**
   * An entry whose features are in place made visible: its metadata is written last, whole, so a
   * reader sees the entry complete or not at all; then evicts down to the cap, never this entry.
   */
  private async publish(key: string, meta: FeatureEntryMeta): Promise<void> {
    await writeFileAtomic(this.paths(key).meta, JSON.stringify(meta, null, 2));
    await this.evict(key);
  }

  async list(): Promise<FeatureEntry[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const entries: FeatureEntry[] = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const key = name.slice(0, -'.json'.length);
      const p = this.paths(key);
      try {
        const [meta, info, data] = await Promise.all([readFile(p.meta, 'utf8'), stat(p.meta), stat(p.data)]);
        entries.push({ ...(JSON.parse(meta) as FeatureEntryMeta), bytes: data.size, lastUsed: info.mtime });
      } catch {
        // Removed by another process while we looked.
      }
    }
    return entries.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
  }

  async remove(key: string): Promise<void> {
    if (this.held?.meta.key === key) this.held = undefined;
    if (this.opened?.key === key) this.closeOpened();
    const p = this.paths(key);
    // Metadata first: the entry stops existing before its features go.
    await rm(p.meta, { force: true });
    await rm(p.data, { force: true });
  }

  /** Removes every entry, and temporary files that crashed writers left; returns the entries removed. */
  async clear(): Promise<FeatureEntry[]> {
    const entries = await this.list();
    for (const e of entries) await this.remove(e.key);
    for (const name of await readdir(this.dir).catch(() => [] as string[])) if (name.includes('.tmp-')) await rm(join(this.dir, name), { force: true });
    return entries;
  }

  private async evict(keep: string): Promise<void> {
    const entries = await this.list();
    let total = entries.reduce((n, e) => n + e.bytes, 0);
    for (const e of entries.reverse()) {
      if (total <= this.maxBytes) break;
      if (e.key === keep) continue;
      await this.remove(e.key);
      total -= e.bytes;
    }
  }
}

/**
 * Rows read from an open features file into each gather's own array: one positional read per
 * run of consecutive rows, so a sequential pass reads in large blocks and a shuffled batch in
 * one read per row.
 */
interface OpenFile {
  fd: number;
  closed: boolean;
}

function fileRows(file: OpenFile, count: number, shape: readonly number[]): RowSource {
  const rowBytes = rowSize(shape) * 4;
  const { fd } = file;
  return {
    count,
    shape: [...shape],
    gather: (indices) => {
      // A closed descriptor's number may already name another file.
      if (file.closed) throw new InternalError('feature-cache rows read after another entry took their file\'s place');
      const out = new Float32Array((indices.length * rowBytes) / 4);
      const view = new Uint8Array(out.buffer);
      for (let i = 0; i < indices.length; ) {
        let run = 1;
        while (i + run < indices.length && indices[i + run] === indices[i] + run) run++;
        const length = run * rowBytes;
        for (let done = 0; done < length; ) {
          const got = readSync(fd, view, i * rowBytes + done, length - done, indices[i] * rowBytes + done);
          if (!got) throw new InternalError(`feature-cache file ended before row ${indices[i] + run - 1} of ${count}`);
          done += got;
        }
        i += run;
      }
      return out;
    },
  };
}
