// What a bench needs from a tunespec run store: every variant's swept values, final validation
// accuracy, examples/s per epoch, status and engine. The files go through the store's own
// validated reader (src/track/store-format.ts), so a bench never misreads another format.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatOfVariant, type EpochRecord } from '../../src/track/local-store.ts';
import { parseEpochLines, parseStoreFile } from '../../src/track/store-format.ts';

export interface StoredRun { lr: string; seed: number; valAccuracy: number; examplesPerSecond: number[]; status: string; engine: string }

function read(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

export function readRunStore(runsDir: string): StoredRun[] {
  const out: StoredRun[] = [];
  for (const exp of readdirSync(runsDir)) {
    const expDir = join(runsDir, exp);
    for (const sweep of readdirSync(expDir).filter((s) => !s.startsWith('.'))) {
      const sweepDir = join(expDir, sweep);
      for (const v of readdirSync(sweepDir, { withFileTypes: true })) {
        if (!v.isDirectory() || v.name.startsWith('.')) continue;
        const dir = join(sweepDir, v.name);
        const status = parseStoreFile('status', join(dir, 'status.json'), readFileSync(join(dir, 'status.json'), 'utf8'));
        const format = formatOfVariant({ dir, status });
        const params = parseStoreFile('params', join(dir, 'params.json'), readFileSync(join(dir, 'params.json'), 'utf8'), format);
        const history = parseEpochLines(join(dir, 'metrics.jsonl'), read(join(dir, 'metrics.jsonl')), format) as EpochRecord[];
        out.push({
          lr: String(params['training.learning_rate']),
          seed: Number(params['training.seed']),
          valAccuracy: history.at(-1)?.val_accuracy ?? NaN,
          examplesPerSecond: history.map((h) => h.examples_per_second!),
          status: status.status,
          engine: [status.engine?.name, status.engine?.version].filter(Boolean).join(' '),
        });
      }
    }
  }
  return out;
}
