import { createHash } from 'node:crypto';

const ARRAY_INDEX = /^(0|[1-9]\d{0,9})$/;

/** Keys in sorted order, as an object built in that order enumerates them (array-index keys first, by number). */
function sortedKeys(v: object): string[] {
  const keys = Object.keys(v).sort();
  return keys.some((k) => ARRAY_INDEX.test(k)) ? Object.keys(Object.fromEntries(keys.map((k) => [k, 0]))) : keys;
}

function serialise(v: unknown, memo: WeakMap<object, string> | undefined): string | undefined {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return serialise((v as { toJSON(): unknown }).toJSON(), memo);
  const known = memo?.get(v);
  if (known !== undefined) return known;
  let text: string;
  if (Array.isArray(v)) text = `[${v.map((x) => serialise(x, memo) ?? 'null').join(',')}]`;
  else {
    const parts: string[] = [];
    for (const k of sortedKeys(v)) {
      const s = serialise((v as Record<string, unknown>)[k], memo);
      if (s !== undefined) parts.push(`${JSON.stringify(k)}:${s}`);
    }
    text = `{${parts.join(',')}}`;
  }
  memo?.set(v, text);
  return text;
}

/**
 * JSON with object keys sorted at every depth: equal values always serialise to equal text. With
 * `memo`, an object already serialised is not walked again: for values that share unchanging
 * parts (the variants of one grid), so only pass one while those objects stay unmodified.
 */
export function canonicalJson(value: unknown, memo?: WeakMap<object, string>): string {
  return serialise(value, memo) as string;
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** shortHash of `prefix + rest`, for many `rest`s after one long prefix: the prefix is hashed once. */
export function shortHashAfter(prefix: string): (rest: string) => string {
  const head = createHash('sha256').update(prefix);
  return (rest) => head.copy().update(rest).digest('hex').slice(0, 12);
}

/**
 * Small numbers for values, the same for values with the same canonical JSON: short Map keys for
 * values that many variants share, where an object met again is not serialised again. Only for
 * objects that stay unmodified while the ids are in use.
 */
export function contentIds(): (value: unknown) => number {
  const byObject = new WeakMap<object, number>();
  const byText = new Map<string, number>();
  return (value) => {
    const isObject = value !== null && typeof value === 'object';
    const known = isObject ? byObject.get(value) : undefined;
    if (known !== undefined) return known;
    const text = canonicalJson(value);
    let id = byText.get(text);
    if (id === undefined) byText.set(text, (id = byText.size));
    if (isObject) byObject.set(value, id);
    return id;
  };
}
