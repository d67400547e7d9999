import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../engine/feature-cache.ts';
import { CacheRecords } from '../engine/cache-records.ts';
import { baseModelDigest } from '../model/recorded-spec.ts';
import { canonicalJson } from '../plan/canonical.ts';
import type { Variant } from '../plan/expand.ts';
import { PACKAGE_ROOT } from '../package-root.ts';
import { specModel } from './spec-model.ts';
import type { LoadedSpec } from './load-spec.ts';

/** One layer of the model a variant builds, as `plan` shows it. */
export interface LayerRow {
  name: string;
  className: string;
  params: number;
  trainable: boolean;
}

/**
 * The build of tunespec that makes a table: the times of its code files (dist/main.js and the
 * newest under src/), so that a table built by other code is never read back as this code's.
 */
function codeIdentity(): string {
  const newest = (dir: string): number => {
    try {
      return Math.max(statSync(dir).mtimeMs, ...readdirSync(dir, { recursive: true }).map((f) => statSync(join(dir, String(f))).mtimeMs));
    } catch {
      return 0;
    }
  };
  let built = 0;
  try {
    built = statSync(join(PACKAGE_ROOT, 'dist', 'main.js')).mtimeMs;
  } catch {
    // Not precompiled: the sources are the code.
  }
  return `${built}:${newest(join(PACKAGE_ROOT, 'src'))}`;
}

/**
 * Layer tables on disk under the cache root (`model-tables/`), by a key naming the base model's
 * bytes, the variant's cut, head and freeze rules, and the code that built it: building the model
 * needs TensorFlow.js, which takes longer to load than `plan` of a 10,000-variant grid takes to
 * run. Unreadable entries are built again; a write that fails costs only the next plan's build.
 */
export class ModelTableCache {
  private identity: string | undefined;
  private readonly digests = new WeakMap<object, string>();
  private readonly records: CacheRecords<LayerRow[]>;

  constructor(readonly dir: string) {
    this.records = new CacheRecords(
      dir,
      (rows): rows is LayerRow[] =>
        Array.isArray(rows) && rows.every((r) => typeof r?.name === 'string' && typeof r.className === 'string' && Number.isInteger(r.params) && typeof r.trainable === 'boolean'),
    );
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): ModelTableCache {
    return new ModelTableCache(join(cacheRoot(env), 'model-tables'));
  }

  keyFor(spec: LoadedSpec, variant: Variant): string {
    this.identity ??= codeIdentity();
    let digest = this.digests.get(spec.model.base);
    if (digest === undefined) this.digests.set(spec.model.base, (digest = baseModelDigest(spec.model.base)));
    const s = variant.spec;
    const text = canonicalJson([this.identity, digest, spec.model.cutIndexes.get(variant.id), s.base_model, s.head, s.freeze]);
    return createHash('sha256').update(text).digest('hex').slice(0, 32);
  }

  get(key: string): Promise<LayerRow[] | undefined> {
    return this.records.read(key);
  }

  put(key: string, rows: LayerRow[]): Promise<void> {
    return this.records.write(key, rows);
  }
}

/** Layer table of the model a variant builds, from the cache or by building it (TensorFlow.js). */
export async function modelTable(spec: LoadedSpec, variant: Variant, cache: ModelTableCache): Promise<LayerRow[]> {
  const key = cache.keyFor(spec, variant);
  const cached = await cache.get(key);
  if (cached) return cached;
  const { built, outside = [], dispose } = await specModel(spec, variant);
  const rows = [
    ...outside.map((l) => ({ name: l.name, className: l.className, params: l.params, trainable: false })),
    ...built.layers.map((l, i) => ({ name: l.name, className: l.getClassName(), params: l.countParams(), trainable: !built.frozen[i] })),
  ];
  await dispose();
  await cache.put(key, rows);
  return rows;
}
