import type { StoredVariant } from './local-store.ts';

/** Stored variants best first by `metric`; those without it (failed, interrupted) last, in their order. */
export function rankByMetric<T extends Pick<StoredVariant, 'result'>>(variants: readonly T[], metric: string, greaterIsBetter: boolean): T[] {
  const score = (v: T): number => v.result?.metrics[metric] ?? NaN;
  return [...variants].sort((a, b) => {
    const x = score(a);
    const y = score(b);
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
    return greaterIsBetter ? y - x : x - y;
  });
}
