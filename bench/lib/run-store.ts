// What a bench needs from a tunespec run store: every variant's swept values, final validation
// accuracy, examples/s per epoch, status and engine.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StoredRun { lr: string; seed: number; valAccuracy: number; examplesPerSecond: number[]; status: string; engine: string }

export function readRunStore(runsDir: string): StoredRun[] {
  const out: StoredRun[] = [];
  for (const exp of readdirSync(runsDir)) {
    const expDir = join(runsDir, exp);
    for (const sweep of readdirSync(expDir).filter((s) => !s.startsWith('.'))) {
      const sweepDir = join(expDir, sweep);
      for (const v of readdirSync(sweepDir, { withFileTypes: true })) {
        if (!v.isDirectory() || v.name.startsWith('.')) continue;
        const dir = join(sweepDir, v.name);
        const params = JSON.parse(readFileSync(join(dir, 'params.json'), 'utf8'));
        const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
        const history = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
        out.push({
          lr: String(params['training.learning_rate']),
          seed: Number(params['training.seed']),
          valAccuracy: history.at(-1)?.val_accuracy ?? NaN,
          examplesPerSecond: history.map((h) => h.examples_per_second),
          status: status.status,
          engine: [status.engine?.name, status.engine?.version].filter(Boolean).join(' '),
        });
      }
    }
  }
  return out;
}
