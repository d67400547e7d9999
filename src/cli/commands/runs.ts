import { join, resolve } from 'node:path';
import { LocalRunStore, type StoredVariant } from '../../track/local-store.ts';
import { modeFor } from '../../train/schedule.ts';
import { fixed, formatTable } from '../../report/table.ts';
import { loadSpec } from '../load-spec.ts';
import type { Io } from '../io.ts';

/** The spec's current variants with their latest stored attempt, best first by the objective. */
export async function runsCommand(file: string, runsDir: string, io: Io): Promise<number> {
  const spec = await loadSpec(file);
  const store = new LocalRunStore(resolve(runsDir));
  const stored = await store.list(spec.experiment.name);
  const { metric, mode } = spec.experiment.training.objective;
  const sign = modeFor(metric, mode) === 'max' ? -1 : 1;
  const latest = (id: string): StoredVariant | undefined =>
    stored.filter((s) => s.status.variant === id).sort((a, b) => b.status.finished.localeCompare(a.status.finished))[0];
  const rows = spec.plan.variants.map((v) => ({ v, s: latest(v.id) }));
  const score = (s?: StoredVariant): number => (s?.status.status === 'completed' ? (s.result?.metrics[metric] ?? NaN) : NaN);
  rows.sort((a, b) => {
    const x = score(a.s);
    const y = score(b.s);
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
    return sign * (x - y);
  });
  io.out(
    formatTable(
      ['variant', 'swept', 'status', metric, 'val_loss', 'val_accuracy', 'epoch', 'seconds'],
      rows.map(({ v, s }) => [
        v.id,
        v.label,
        s?.status.status ?? 'not run',
        fixed(s?.result?.metrics[metric]),
        fixed(s?.result?.metrics.val_loss),
        fixed(s?.result?.metrics.val_accuracy),
        s?.result?.metrics.kept_epoch ?? '-',
        s ? s.status.seconds.toFixed(1) : '-',
      ]),
    ),
  );
  const best = rows[0];
  if (best?.s?.status.status === 'completed') {
    io.out(`\nbest: ${best.v.id} (${best.v.label}) ${metric} ${fixed(score(best.s))}; model: ${join(best.s.dir, 'model', 'model.json')}`);
  }
  return 0;
}
