import type { StoredVariant } from './local-store.ts';
import { rankByMetric } from './rank.ts';

/** What each variant's row shows, best first; the CSV leads with the id (for tools), the markdown with the name (for people). */
const SCORES = ['val_accuracy', 'val_loss', 'kept_epoch', 'status', 'seconds'] as const;

function scores(v: StoredVariant): string[] {
  const m = v.result?.metrics ?? {};
  const num = (x: number | undefined, digits: number): string => (x === undefined ? '' : x.toFixed(digits));
  return [num(m.val_accuracy, 4), num(m.val_loss, 4), num(m.kept_epoch, 0), v.status.status, v.status.seconds.toFixed(1)];
}

const csvCell = (c: string): string => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
const mdCell = (c: string): string => c.replace(/\|/g, '\\|');

/**
 * The variants of one sweep, best first by `metric`, as CSV and as a markdown table whose
 * variant names link to `link(v)` when it gives a URL (their MLflow runs, say).
 */
export function comparisonTables(
  variants: StoredVariant[],
  metric: string,
  greaterIsBetter: boolean,
  link?: (v: StoredVariant) => string | undefined,
): { csv: string; markdown: string } {
  const ranked = rankByMetric(variants, metric, greaterIsBetter);
  const csv = [['variant', 'label', ...SCORES], ...ranked.map((v) => [v.status.variant, v.status.label, ...scores(v)])];
  const md = [['#', 'variant', ...SCORES, 'id'].map(mdCell)];
  ranked.forEach((v, i) => {
    const url = link?.(v);
    const name = url ? `[${mdCell(v.status.label).replace(/[[\]]/g, '\\$&')}](${url})` : mdCell(v.status.label);
    md.push([String(i + 1), name, ...scores(v).map(mdCell), `\`${v.status.variant}\``]);
  });
  return {
    csv: csv.map((r) => r.map(csvCell).join(',')).join('\n') + '\n',
    markdown: [`| ${md[0].join(' | ')} |`, `|${md[0].map(() => '---').join('|')}|`, ...md.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n',
  };
}
