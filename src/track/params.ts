/**
 * Spec sections that say where results go or what the experiment is called, not how the model
 * trains: never a param (params are what a user compares across runs).
 */
const NOT_PARAMS = new Set(['name', 'description', 'tags', 'tracking', 'export', 'checkpoint', 'register', 'sweep']);

/**
 * A spec as flat `dotted.key → string` params, the shape both the local store and MLflow keep.
 * Keys are the sweep's own paths (`head.1.rate`), so a swept value and its param share a name;
 * numbers stay plain numerals so tools plot them on numeric axes; lists of scalars are joined.
 */
export function flattenParams(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (v: unknown, key: string): void => {
    if (v === undefined) return;
    if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) {
      out[key] = v.map(String).join(',');
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (!key && NOT_PARAMS.has(k)) continue;
        visit(child, key ? `${key}.${k}` : k);
      }
    } else {
      out[key] = String(v);
    }
  };
  visit(value, '');
  return out;
}
