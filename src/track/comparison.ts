import type { StoredVariant } from './local-store.ts';
import { resultMetricName } from './mlflow/metric-names.ts';
import { rankByMetric } from './rank.ts';

/**
 * The kept weights' scores a row shows, the objective first: what a user compares (perplexity for
 * generation variants, which have no accuracy). The names are MLflow's (`kept/val/accuracy`), as
 * on the runs beside the table.
 */
function scoreKeys(objective: string, variants: StoredVariant[]): string[] {
  const generation = variants.some((v) => v.result?.metrics.val_perplexity !== undefined);
  return [...new Set([objective, generation ? 'val_perplexity' : 'val_accuracy', 'val_loss', 'kept_epoch'])];
}

function scoreCells(v: StoredVariant, keys: string[]): string[] {
  const m = v.result?.metrics ?? {};
  return keys.map((k) => {
    const x = m[k];
    return x === undefined ? '' : k === 'kept_epoch' ? x.toFixed(0) : x.toFixed(4);
  });
}

/** A swept value as a cell: numbers and strings as written, anything else as JSON. */
function overrideCell(x: unknown): string {
  return x === undefined ? '' : typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'boolean' ? String(x) : JSON.stringify(x);
}

const csvCell = (c: string): string => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
const mdCell = (c: string): string => c.replace(/\|/g, '\\|');

/**
 * The variants of one sweep, best first by `metric`, as CSV and as a markdown table whose
 * variant names link to `link(v)` when it gives a URL (their MLflow runs, say). Both lead with
 * what a user compares: the rank, the variant's name (its swept values), and its kept scores, the
 * objective first; the CSV also has a column per swept field (`overrides`, by variant id) for
 * sorting and plotting. The variant id, for tools, comes last.
 */
export function comparisonTables(
  variants: StoredVariant[],
  metric: string,
  greaterIsBetter: boolean,
  link?: (v: StoredVariant) => string | undefined,
  overrides: ReadonlyMap<string, Record<string, unknown>> = new Map(),
): { csv: string; markdown: string } {
  const ranked = rankByMetric(variants, metric, greaterIsBetter);
  const keys = scoreKeys(metric, variants);
  const scoreNames = keys.map(resultMetricName);
  const swept = [...new Set(ranked.flatMap((v) => Object.keys(overrides.get(v.status.variant) ?? {})))];
  const csv = [['rank', 'variant', ...swept, ...scoreNames, 'status', 'seconds', 'variant_id']];
  const md = [['#', 'variant', ...scoreNames, 'status', 'seconds', 'id'].map(mdCell)];
  ranked.forEach((v, i) => {
    const rest = [v.status.status, v.status.seconds.toFixed(1)];
    const values = overrides.get(v.status.variant) ?? {};
    csv.push([String(i + 1), v.status.label, ...swept.map((p) => overrideCell(values[p])), ...scoreCells(v, keys), ...rest, v.status.variant]);
    const url = link?.(v);
    const name = url ? `[${mdCell(v.status.label).replace(/[[\]]/g, '\\$&')}](${url})` : mdCell(v.status.label);
    md.push([String(i + 1), name, ...scoreCells(v, keys), ...rest].map((c, j) => (j === 1 ? c : mdCell(c))).concat(`\`${v.status.variant}\``));
  });
  return {
    csv: csv.map((r) => r.map(csvCell).join(',')).join('\n') + '\n',
    markdown: [`| ${md[0].join(' | ')} |`, `|${md[0].map(() => '---').join('|')}|`, ...md.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n',
  };
}
