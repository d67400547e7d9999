import { randomUUID } from 'node:crypto';
import { checkStructure } from '../spec/structure.ts';
import { dottedToPath, type PathSegment } from '../spec/parse.ts';
import { experimentSchema } from '../spec/schema.ts';
import { assignAtPath, cloneData } from '../spec/sweep.ts';
import type { Experiment } from '../spec/types.ts';
import { variantIdentity } from '../spec/derived.ts';
import { InternalError } from '../errors.ts';
import { canonicalJson, shortHash, shortHashAfter } from './canonical.ts';

export interface Variant {
  /** Position in the plan: what `--index` and array jobs address. */
  index: number;
  /** Content hash of the resolved variant and its inputs: stable across runs and machines. */
  id: string;
  /** Readable swept values, e.g. `lr=0.001,bs=32`. */
  label: string;
  overrides: Record<string, unknown>;
  spec: Experiment;
}

export interface Plan {
  sweepId: string;
  variants: Variant[];
}

const SHORT: Record<string, string> = { learning_rate: 'lr', batch_size: 'bs', optimizer: 'opt', momentum: 'mom' };

/** A swept key as labels name it (`lr=0.001,bs=32`): short names for common training fields, the dotted path otherwise. */
const labelName = (key: string): string => SHORT[key.split('.').pop()!] ?? key;
const labelValue = (v: unknown): string => (typeof v === 'object' ? canonicalJson(v) : String(v));

function* cartesian(lists: unknown[][]): Generator<unknown[]> {
  const idx = lists.map(() => 0);
  if (lists.some((l) => l.length === 0)) return;
  while (true) {
    yield idx.map((i, k) => lists[k][i]);
    let k = lists.length - 1;
    while (k >= 0 && ++idx[k] === lists[k].length) idx[k--] = 0;
    if (k < 0) return;
  }
}

type SchemaNode = { type?: unknown; properties?: Record<string, SchemaNode>; [keyword: string]: unknown };

/** Keywords that make one property's validity or defaults depend on another's value. */
const COUPLING = ['oneOf', 'anyOf', 'allOf', 'not', 'if', 'discriminator', '$ref', 'dependencies', 'dependentRequired', 'dependentSchemas', 'patternProperties'];

/**
 * Whether setting a scalar at `path` can change nothing else in a validated spec: every object on
 * the way is a plain set of properties, each checked on its own, so the value, already checked in
 * place by checkSweep, is valid beside any other, and no default depends on it.
 */
function independentPath(path: PathSegment[]): boolean {
  let node = experimentSchema as SchemaNode;
  for (const seg of path) {
    if (node.type !== 'object' || !node.properties || COUPLING.some((k) => k in node)) return false;
    node = node.properties[String(seg)];
    if (!node) return false;
  }
  return true;
}

/** The swept paths as a tree of the keys on the way: a leaf is the index of the value set there. */
type PathTree = Map<string, PathTree | number>;

/** The tree of `paths`, or undefined when one path runs through another's end. */
function pathTree(paths: PathSegment[][]): PathTree | undefined {
  const root: PathTree = new Map();
  for (const [k, path] of paths.entries()) {
    let node = root;
    for (const [i, seg] of path.entries()) {
      const key = String(seg);
      const next = node.get(key);
      if (i === path.length - 1) {
        if (next !== undefined) return undefined;
        node.set(key, k);
      } else if (typeof next === 'number') return undefined;
      else if (next) node = next;
      else node.set(key, (node = new Map()));
    }
  }
  return root;
}

/** A copy of `doc` with `values[k]` at each path of the tree, copying each object on the way once and sharing everything off it. */
function withValuesAt(doc: Record<string, unknown>, tree: PathTree, values: readonly unknown[]): Record<string, unknown> {
  const out = { ...doc };
  for (const [key, next] of tree) out[key] = typeof next === 'number' ? values[next] : withValuesAt(out[key] as Record<string, unknown>, next, values);
  return out;
}

/**
 * The variant id of `first` with scalars at the tree's paths, for any values: the canonical JSON of `first`
 * with a marker at each path, cut at the markers, so that each variant's text is its values' JSON
 * spliced in, the same text canonicalJson gives, without walking the spec again; the text before
 * the first marker is hashed once.
 */
function idTemplate(first: Experiment, tree: PathTree, count: number, inputsDigest: string): (values: unknown[]) => string {
  const nonce = randomUUID();
  const markers = Array.from({ length: count }, (_, k) => ({ toJSON: () => `${nonce}:${k}` }));
  const marked = withValuesAt(first as unknown as Record<string, unknown>, tree, markers);
  const text = canonicalJson({ identity: variantIdentity(marked as unknown as Experiment), inputsDigest });
  const pieces = text.split(new RegExp(`"${nonce}:(\\d+)"`));
  // pieces alternate: text, the index of the value at the marker, text, …
  const hashAfterHead = shortHashAfter(pieces[0]);
  return (values) => {
    let rest = '';
    for (let i = 1; i < pieces.length; i += 2) rest += JSON.stringify(values[Number(pieces[i])]) + pieces[i + 1];
    return hashAfterHead(rest);
  };
}

/**
 * The variants of a spec: each sweep combination applied to the raw spec, re-validated (so
 * defaults apply inside swept objects too), and hashed. Cosmetic fields (OUTSIDE_VARIANT_ID)
 * stay out of the id so editing them does not retrain anything; `inputsDigest` (base model and
 * data contents) goes in, so changed inputs never reuse old results. Pure: no I/O.
 *
 * Variants share what no sweep path enters (a 10,000-variant grid copies only what it changes).
 * When every swept value is a scalar on an independent path (independentPath), re-validating a
 * variant could only give back the first variant with those scalars changed, so that is what it
 * is built as.
 */
export function expandGrid(raw: Record<string, unknown>, inputsDigest: string): Plan {
  const sweep = (raw.sweep ?? {}) as Record<string, unknown[]>;
  const keys = Object.keys(sweep);
  const paths = keys.map(dottedToPath);
  const base = cloneData(raw);
  delete base.sweep;
  const tree = pathTree(paths);
  const scalarsOnly = tree !== undefined && paths.every((p, k) => independentPath(p) && sweep[keys[k]].every((v) => v === null || typeof v !== 'object'));
  // Validation fills defaults into the shared sections once, the same for every variant: the root
  // schema is a plain object, so a section's defaults depend on that section alone.
  const swept = new Set(paths.map((p) => String(p[0])));
  const serialised = new WeakMap<object, string>();
  const names = keys.map(labelName);
  const variants: Variant[] = [];
  let first: Experiment | undefined;
  let idOf: ReturnType<typeof idTemplate> | undefined;
  for (const combo of cartesian(keys.map((k) => sweep[k]))) {
    const overrides: Record<string, unknown> = {};
    combo.forEach((value, k) => (overrides[keys[k]] = value));
    const label = keys.length ? combo.map((v, k) => `${names[k]}=${labelValue(v)}`).join(',') : 'base';
    if (first && idOf) {
      const spec = withValuesAt(first as unknown as Record<string, unknown>, tree!, combo) as unknown as Experiment;
      variants.push({ index: variants.length, id: idOf(combo), label, overrides, spec });
      continue;
    }
    const doc: Record<string, unknown> = { ...base };
    for (const section of swept) if (section in doc) doc[section] = cloneData(doc[section]);
    combo.forEach((value, k) => assignAtPath(doc, paths[k], value));
    const checked = checkStructure(doc);
    if (!checked.spec) throw new InternalError(`variant ${label} is invalid after validation passed: ${checked.issues[0]?.message}`);
    const spec = checked.spec;
    if (!first) {
      first = spec;
      // Scalars only: every later variant is the first with its values spliced in.
      if (scalarsOnly) idOf = idTemplate(first, tree!, keys.length, inputsDigest);
    }
    const id = idOf ? idOf(combo) : shortHash(canonicalJson({ identity: variantIdentity(spec), inputsDigest }, serialised));
    variants.push({ index: variants.length, id, label, overrides, spec });
  }
  return { sweepId: shortHash(variants.map((v) => v.id).join(',')), variants };
}
