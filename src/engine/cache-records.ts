import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.ts';

/**
 * Small JSON records in a folder of the cache root, one file a key (plan's step probes, layer
 * tables and engine choices). A record is read back only when `valid` accepts it, so an unreadable
 * or foreign one is worked out again; it is written whole (a temporary file, then a rename) and
 * best effort: a cache that cannot be written only means the same work next time.
 */
export class CacheRecords<T> {
  constructor(
    readonly dir: string,
    private readonly valid: (value: unknown) => value is T,
  ) {}

  async read(key: string): Promise<T | undefined> {
    try {
      const value: unknown = JSON.parse(await readFile(join(this.dir, `${key}.json`), 'utf8'));
      return this.valid(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  async write(key: string, value: T): Promise<void> {
    try {
      await writeFileAtomic(join(this.dir, `${key}.json`), JSON.stringify(value));
    } catch {
      // Read-only or full: the record is made again next time.
    }
  }
}
