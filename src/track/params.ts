/**
 * A spec as flat `dotted.key → string` params, the shape both the local store and MLflow keep.
 * Numbers stay plain numerals so tools plot them on numeric axes; lists of scalars are joined,
 * anything else nested is JSON.
 */
export function flattenParams(value: unknown, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (v: unknown, key: string): void => {
    if (v === undefined) return;
    if (Array.isArray(v)) {
      out[key] = v.every((x) => x === null || typeof x !== 'object') ? v.map(String).join(',') : JSON.stringify(v);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) visit(child, key ? `${key}.${k}` : k);
    } else {
      out[key] = String(v);
    }
  };
  visit(value, prefix);
  return out;
}
