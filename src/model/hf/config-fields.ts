/**
 * Readers of config.json fields that collect every problem instead of stopping at the first, so a
 * family's config reader reports all of them in one located error.
 */
export function configFields(json: Record<string, unknown>, issues: string[]) {
  return {
    int(key: string, fallback?: number, min = 1): number {
      const v = json[key] ?? fallback;
      if (!Number.isInteger(v) || (v as number) < min) issues.push(`${key} must be an integer >= ${min}; got ${JSON.stringify(json[key])}`);
      return v as number;
    },
    num(key: string, fallback: number, ok: (n: number) => boolean, what: string): number {
      const v = json[key] ?? fallback;
      if (typeof v !== 'number' || !ok(v)) issues.push(`${key} must be ${what}; got ${JSON.stringify(json[key])}`);
      return v as number;
    },
  };
}
