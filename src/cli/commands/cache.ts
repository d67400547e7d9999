import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelTableCache } from '../../app/model-table.ts';
import { EngineChoiceCache } from '../../engine/engine-choice.ts';
import { FrozenFeatureCache } from '../../engine/feature-cache.ts';
import { StepProbeCache } from '../../train/step-probe.ts';
import { formatTable } from '../../report/table.ts';
import { UsageError } from '../../errors.ts';
import type { Io } from '../io.ts';

function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) (bytes /= 1024), i++;
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}

interface PlanCache {
  name: string;
  dir: string;
  files: number;
  bytes: number;
}

/** The small caches `plan` keeps beside the features (each entry is made again when missing): their folders, files and bytes. */
async function planCaches(): Promise<PlanCache[]> {
  const folders = [
    ['layer tables', ModelTableCache.fromEnv().dir],
    ['engine choices', EngineChoiceCache.fromEnv().dir],
    ['step probes', StepProbeCache.fromEnv().dir],
  ] as const;
  return Promise.all(
    folders.map(async ([name, dir]) => {
      const names = await readdir(dir).catch(() => [] as string[]);
      const sizes = await Promise.all(names.map((n) => stat(join(dir, n)).then((s) => s.size, () => 0)));
      return { name, dir, files: names.length, bytes: sizes.reduce((a, b) => a + b, 0) };
    }),
  );
}

const files = (n: number): string => `${n} file${n === 1 ? '' : 's'}`;

/** `tunespec cache [list|clear]`: what the frozen-feature cache and plan's caches hold, and emptying them. */
export async function cacheCommand(action: string | undefined, opts: { json: boolean }, io: Io): Promise<number> {
  const cache = FrozenFeatureCache.fromEnv();
  switch (action ?? 'list') {
    case 'list': {
      const [entries, plan] = await Promise.all([cache.list(), planCaches()]);
      const total = entries.reduce((n, e) => n + e.bytes, 0);
      if (opts.json) {
        io.out(JSON.stringify({ dir: cache.dir, maxBytes: cache.maxBytes, totalBytes: total, entries, planCaches: plan }, null, 2));
        return 0;
      }
      io.out(`feature cache ${cache.dir}: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, ${size(total)} of ${size(cache.maxBytes)} (TUNESPEC_CACHE_MAX)`);
      for (const c of plan) io.out(`${c.name} ${c.dir}: ${files(c.files)}, ${size(c.bytes)}`);
      if (entries.length) {
        io.out(
          formatTable(
            ['key', 'layer', 'shape', 'rows', 'size', 'computed in', 'engine', 'last used'],
            entries.map((e) => [e.key.slice(0, 12), e.boundary, e.shape.join('x'), e.rows, size(e.bytes), `${e.seconds.toFixed(1)}s`, e.engine, e.lastUsed.toISOString()]),
          ),
        );
      }
      return 0;
    }
    case 'clear': {
      const removed = await cache.clear();
      io.out(`removed ${removed.length} entr${removed.length === 1 ? 'y' : 'ies'} (${size(removed.reduce((n, e) => n + e.bytes, 0))}) from ${cache.dir}`);
      for (const c of await planCaches()) {
        await rm(c.dir, { recursive: true, force: true });
        io.out(`removed ${c.name} ${c.dir}: ${files(c.files)} (${size(c.bytes)})`);
      }
      return 0;
    }
    default:
      throw new UsageError(`cache takes list or clear; got "${action}"`);
  }
}
