import { FrozenFeatureCache } from '../../engine/feature-cache.ts';
import { formatTable } from '../../report/table.ts';
import { UsageError } from '../../errors.ts';
import type { Io } from '../io.ts';

function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) (bytes /= 1024), i++;
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** `tunespec cache [list|clear]`: what the frozen-feature cache holds, and emptying it. */
export async function cacheCommand(action: string | undefined, opts: { json: boolean }, io: Io): Promise<number> {
  const cache = FrozenFeatureCache.fromEnv();
  switch (action ?? 'list') {
    case 'list': {
      const entries = await cache.list();
      const total = entries.reduce((n, e) => n + e.bytes, 0);
      if (opts.json) {
        io.out(JSON.stringify({ dir: cache.dir, maxBytes: cache.maxBytes, totalBytes: total, entries }, null, 2));
        return 0;
      }
      io.out(`feature cache ${cache.dir}: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, ${size(total)} of ${size(cache.maxBytes)} (TUNESPEC_CACHE_MAX)`);
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
      return 0;
    }
    default:
      throw new UsageError(`cache takes list or clear; got "${action}"`);
  }
}
