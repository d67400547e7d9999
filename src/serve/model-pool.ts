/** What the pool keeps: a loaded model that says how much memory it holds and can let it go. */
export interface Poolable {
  bytes: number;
  engine: string;
  dispose(): void;
}

/** A model's identity in the pool: loaded once per key (its source), named in the log by `name`. */
export interface PoolKey {
  name: string;
  source: string;
}

interface Entry {
  ref: PoolKey;
  loading: Promise<Poolable>;
  model?: Poolable;
  /** The tail of this model's request chain: one request at a time runs on a model. */
  tail: Promise<unknown>;
  /** Requests waiting or running on it: a busy model is never unloaded. */
  busy: number;
}

/**
 * Loaded models, kept while they fit in `maxBytes` (each one's own estimate: 4 bytes a parameter),
 * the least recently used unloaded first. Requests to one model run one after the other (a tfjs
 * model's decoding is synchronous, step by step, and the steps of two requests would only slow
 * both); models load one at a time, so two cold requests never hold two models half-built.
 */
export class ModelPool {
  /** In Map order, least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private loads: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly maxBytes: number,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Runs `fn` on the model, loading it with `load` first if the pool does not hold it, after the
   * requests already queued on it. One key always holds one kind of model (the caller's `M`).
   */
  async use<M extends Poolable, T>(ref: PoolKey, load: () => Promise<M>, fn: (m: M) => Promise<T>): Promise<T> {
    let entry = this.entries.get(ref.source);
    if (entry) this.entries.delete(ref.source);
    else {
      const loading = this.loads.then(() => this.loadEntry(ref, load));
      this.loads = loading.catch(() => undefined);
      entry = { ref, loading, tail: Promise.resolve(), busy: 0 };
    }
    this.entries.set(ref.source, entry);
    const e = entry;
    e.busy++;
    const run = e.tail.then(async () => fn((await e.loading) as M));
    e.tail = run.catch(() => undefined);
    try {
      return await run;
    } catch (err) {
      // A model that failed to load is forgotten, so the next request tries again.
      if (!e.model && this.entries.get(ref.source) === e) this.entries.delete(ref.source);
      throw err;
    } finally {
      e.busy--;
      this.evict();
    }
  }

  private async loadEntry(ref: PoolKey, load: () => Promise<Poolable>): Promise<Poolable> {
    const g = await load();
    const e = this.entries.get(ref.source);
    if (e) e.model = g;
    this.log(`serve: loaded ${ref.name} (~${mib(g.bytes)}, engine ${g.engine})`);
    this.evict();
    return g;
  }

  /** Unloads idle models, least recently used first, until the loaded ones fit (a busy one stays, even past the limit). */
  private evict(): void {
    let total = this.loadedBytes();
    for (const [key, e] of this.entries) {
      if (total <= this.maxBytes) break;
      if (e.busy > 0 || !e.model) continue;
      this.entries.delete(key);
      e.model.dispose();
      total -= e.model.bytes;
      this.log(`serve: unloaded ${e.ref.name} (least recently used; loaded models ~${mib(total)} of ${mib(this.maxBytes)})`);
    }
  }

  private loadedBytes(): number {
    return [...this.entries.values()].reduce((sum, e) => sum + (e.model?.bytes ?? 0), 0);
  }

  /** Waits for what is running, then unloads everything. */
  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.tail));
    for (const e of this.entries.values()) e.model?.dispose();
    this.entries.clear();
  }
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
