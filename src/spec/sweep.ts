import { dottedToPath, type PathSegment } from './parse.ts';
import { checkStructure, quoted, type PathIssue } from './structure.ts';
import { experimentSchema } from './schema.ts';
import { OUTSIDE_VARIANT_ID } from './derived.ts';

/** Past this a grid is a mistake (a runaway product of lists), not a sweep anyone will run. */
export const MAX_VARIANTS = 100_000;

/** A deep copy of parsed spec data (plain objects, arrays, primitives): several times faster than structuredClone on it. */
export function cloneData<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneData) as T;
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = cloneData((v as Record<string, unknown>)[k]);
  return out as T;
}

/** Set `value` at `path` in a copy of `doc`; undefined when a parent on the path does not exist. */
export function setAtPath(doc: unknown, path: PathSegment[], value: unknown): unknown {
  return assignAtPath(cloneData(doc), path, value);
}

/** Set a copy of `value` at `path` in `doc` itself; undefined when a parent on the path does not exist. */
export function assignAtPath(doc: unknown, path: PathSegment[], value: unknown): unknown {
  let node = doc as any;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i];
    const next = Array.isArray(node) ? (typeof seg === 'number' ? node[seg] : undefined) : node?.[seg];
    if (next === null || typeof next !== 'object') return undefined;
    node = next;
  }
  const leaf = path[path.length - 1];
  if (Array.isArray(node) && (typeof leaf !== 'number' || leaf >= node.length)) return undefined;
  node[leaf] = cloneData(value);
  return doc;
}

/**
 * Every sweep path must name an existing place in the spec, and every value must make a valid
 * spec when put there. Checked one value at a time, so a 10,000-variant grid costs its list lengths.
 */
export function checkSweep(raw: Record<string, unknown>): PathIssue[] {
  const sweep = raw.sweep;
  if (!sweep || typeof sweep !== 'object') return [];
  const issues: PathIssue[] = [];
  const keys = Object.keys(sweep);
  let variants = 1;
  for (const key of keys) {
    const values = (sweep as Record<string, unknown>)[key];
    if (!Array.isArray(values)) continue; // the structure check reports it
    variants *= values.length;
    if (!new RegExp(experimentSchema.properties.sweep.propertyNames.pattern).test(key)) continue; // reported by the structure check
    const path = dottedToPath(key);
    const at: PathSegment[] = ['sweep', key];
    // Cosmetic, tracking and export fields stay out of variant ids, so sweeping them would make identical variants.
    if ((OUTSIDE_VARIANT_ID as readonly string[]).includes(String(path[0]))) {
      issues.push({ path: at, key: true, message: `sweep: ${quoted(key)} cannot be swept` });
      continue;
    }
    if (path.length === 1 && !(key in experimentSchema.properties)) {
      issues.push({ path: at, key: true, message: `sweep: ${quoted(key)} is not a dotted path such as training.learning_rate or head.1.rate` });
      continue;
    }
    const overlap = keys.find((k) => k !== key && key.startsWith(`${k}.`));
    if (overlap) {
      issues.push({ path: at, key: true, message: `sweep: ${quoted(key)} overlaps ${quoted(overlap)}; sweep one or the other` });
      continue;
    }
    let unknownPath = false;
    values.forEach((value, i) => {
      if (unknownPath) return;
      const candidate = setAtPath(raw, path, value);
      if (candidate === undefined) {
        if (i === 0) issues.push({ path: at, key: true, message: `sweep: ${quoted(key)} does not exist in this spec (its parent is missing)` });
        return;
      }
      delete (candidate as Record<string, unknown>).sweep;
      for (const issue of checkStructure(candidate).issues) {
        if (issue.key && issue.path.join('.') === key) {
          // The path itself is wrong, whatever the value: say so once, at the key.
          issues.push({ path: at, key: true, message: `sweep: ${quoted(key)} is not a spec field: ${issue.message}` });
          unknownPath = true;
          return;
        }
        const under = issue.path.length >= path.length && path.every((s, j) => String(issue.path[j]) === String(s));
        if (under) issues.push({ path: [...at, i, ...issue.path.slice(path.length)], message: `sweep.${key}[${i}]: ${issue.message}` });
      }
    });
  }
  if (variants > MAX_VARIANTS) {
    issues.push({ path: ['sweep'], message: `sweep: the grid has ${variants} variants, more than the limit of ${MAX_VARIANTS}` });
  }
  const seen = new Set<string>();
  return issues.filter((i) => (seen.has(i.message) ? false : (seen.add(i.message), true)));
}
