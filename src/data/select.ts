import { DataError } from './errors.ts';

// Labels are compared as strings because YAML `classes: [5]` must match both the IDX label 5
// and a folder named "5"; the model only ever sees the resulting indices 0..K-1.

export interface SelectOptions {
  classes?: readonly (string | number)[];
  classNames?: readonly string[];
  limitPerClass?: number;
}

export interface ClassSelection {
  /** Indices of the kept examples, ascending (file order). */
  indices: Int32Array;
  /** Class index of each kept example. */
  labels: Int32Array;
  classLabels: (string | number)[];
  classNames: string[];
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function isNumeric(label: string | number): boolean {
  return typeof label === 'number' || NUMERIC.test(label);
}

/** Numeric order when every label is a number (so "10" follows "9"), else code-point order. */
function sortLabels(labels: (string | number)[]): (string | number)[] {
  const byString = (a: string | number, b: string | number) => {
    const x = String(a);
    const y = String(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  if (!labels.every(isNumeric)) return [...labels].sort(byString);
  return [...labels].sort((a, b) => Number(a) - Number(b) || byString(a, b));
}

function preview(labels: Iterable<string | number>): string {
  const all = [...labels].map((l) => JSON.stringify(l));
  return all.length > 20 ? `${all.slice(0, 20).join(', ')}, … (${all.length} in all)` : all.join(', ');
}

/** First stored value of each distinct label, keyed by its string form. */
function distinctLabels(raw: readonly (string | number)[]): Map<string, string | number> {
  const seen = new Map<string, string | number>();
  for (const label of raw) {
    const key = String(label);
    if (!seen.has(key)) seen.set(key, label);
  }
  return seen;
}

function chooseClasses(present: Map<string, string | number>, classes: SelectOptions['classes'], source: string): (string | number)[] {
  if (classes === undefined) {
    const all = sortLabels([...present.values()]);
    if (all.length < 2) throw new DataError(`found ${all.length} class(es) (${preview(all)}); at least 2 are needed`, source);
    return all;
  }
  const listed = new Set<string>();
  return classes.map((c) => {
    const key = String(c);
    if (listed.has(key)) throw new DataError(`classes lists ${JSON.stringify(key)} twice (5 and "5" are the same label)`, source);
    listed.add(key);
    const stored = present.get(key);
    if (stored === undefined) {
      throw new DataError(`class ${JSON.stringify(c)} has no examples; labels present: ${preview(sortLabels([...present.values()]))}`, source, undefined, c);
    }
    return stored;
  });
}

export function selectClasses(raw: readonly (string | number)[], opts: SelectOptions, source: string): ClassSelection {
  const classLabels = chooseClasses(distinctLabels(raw), opts.classes, source);
  if (opts.classNames !== undefined && opts.classNames.length !== classLabels.length) {
    throw new DataError(`class_names has ${opts.classNames.length} names but there are ${classLabels.length} classes (${preview(classLabels)})`, source);
  }
  const classOf = new Map(classLabels.map((label, i) => [String(label), i]));
  const counts = new Array<number>(classLabels.length).fill(0);
  const limit = opts.limitPerClass ?? Infinity;
  const indices: number[] = [];
  const labels: number[] = [];
  raw.forEach((label, i) => {
    const k = classOf.get(String(label));
    if (k === undefined || counts[k] >= limit) return;
    counts[k]++;
    indices.push(i);
    labels.push(k);
  });
  return {
    indices: Int32Array.from(indices),
    labels: Int32Array.from(labels),
    classLabels,
    classNames: opts.classNames ? [...opts.classNames] : classLabels.map(String),
  };
}
