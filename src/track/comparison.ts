import type { StoredVariant } from './local-store.ts';
import { rankByMetric } from './rank.ts';

const COLUMNS = ['variant', 'swept', 'status', 'val_accuracy', 'val_loss', 'kept_epoch', 'seconds'] as const;

function row(v: StoredVariant): string[] {
  const m = v.result?.metrics ?? {};
  const num = (x: number | undefined, digits: number): string => (x === undefined ? '' : x.toFixed(digits));
  return [v.status.variant, v.status.label, v.status.status, num(m.val_accuracy, 4), num(m.val_loss, 4), num(m.kept_epoch, 0), v.status.seconds.toFixed(1)];
}

/** The variants of one sweep, best first by `metric`, as CSV and as a markdown table. */
export function comparisonTables(variants: StoredVariant[], metric: string, greaterIsBetter: boolean): { csv: string; markdown: string } {
  const rows = rankByMetric(variants, metric, greaterIsBetter).map(row);
  const csvCell = (c: string): string => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  return {
    csv: [COLUMNS.join(','), ...rows.map((r) => r.map(csvCell).join(','))].join('\n') + '\n',
    markdown: [`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`)].join('\n') + '\n',
  };
}
