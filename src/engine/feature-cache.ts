import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { UsageError } from '../errors.ts';

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

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): FrozenFeatureCache {
    const max = env.TUNESPEC_CACHE_MAX ? parseSize(env.TUNESPEC_CACHE_MAX, 'TUNESPEC_CACHE_MAX') : DEFAULT_CACHE_MAX;
    return new FrozenFeatureCache(defaultCacheDir(env), max);
  }

  private paths(key: string): { data: string; meta: string } {
    return { data: join(this.dir, `${key}.f32`), meta: join(this.dir, `${key}.json`) };
  }

  async get(key: string): Promise<{ meta: FeatureEntryMeta; features: Float32Array } | undefined> {
    const p = this.paths(key);
    let meta: FeatureEntryMeta;
    try {
      meta = JSON.parse(await readFile(p.meta, 'utf8'));
    } catch {
      return undefined;
    }
    const expected = meta.rows * meta.shape.reduce((a, b) => a * b, 1) * 4;
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

  /** Stores an entry (features first, metadata last), then evicts down to the cap, never this entry. */
  async put(meta: FeatureEntryMeta, features: Float32Array): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const p = this.paths(meta.key);
    const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
    await writeFile(`${p.data}.tmp-${tag}`, new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
    await rename(`${p.data}.tmp-${tag}`, p.data);
    await writeFile(`${p.meta}.tmp-${tag}`, JSON.stringify(meta, null, 2));
    await rename(`${p.meta}.tmp-${tag}`, p.meta);
    this.held = { meta, features };
    await this.evict(meta.key);
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
