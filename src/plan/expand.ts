import { checkStructure } from '../spec/structure.ts';
import { dottedToPath } from '../spec/parse.ts';
import { setAtPath } from '../spec/sweep.ts';
import type { Experiment } from '../spec/types.ts';
import { variantIdentity } from '../spec/derived.ts';
import { InternalError } from '../errors.ts';
import { canonicalJson, shortHash } from './canonical.ts';

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

function labelFor(overrides: Record<string, unknown>): string {
  const parts = Object.entries(overrides).map(([k, v]) => {
    const leaf = k.split('.').pop()!;
    return `${SHORT[leaf] ?? k}=${typeof v === 'object' ? canonicalJson(v) : String(v)}`;
  });
  return parts.length ? parts.join(',') : 'base';
}

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

/**
 * The variants of a spec: each sweep combination applied to the raw spec, re-validated (so
 * defaults apply inside swept objects too), and hashed. Cosmetic fields (OUTSIDE_VARIANT_ID)
 * stay out of the id so editing them does not retrain anything; `inputsDigest` (base model and
 * data contents) goes in, so changed inputs never reuse old results. Pure: no I/O.
 */
export function expandGrid(raw: Record<string, unknown>, inputsDigest: string): Plan {
  const sweep = (raw.sweep ?? {}) as Record<string, unknown[]>;
  const keys = Object.keys(sweep);
  const base = { ...raw };
  delete base.sweep;
  const variants: Variant[] = [];
  for (const combo of cartesian(keys.map((k) => sweep[k]))) {
    let doc: unknown = base;
    const overrides: Record<string, unknown> = {};
    combo.forEach((value, k) => {
      doc = setAtPath(doc, dottedToPath(keys[k]), value);
      overrides[keys[k]] = value;
    });
    const { spec, issues } = checkStructure(keys.length ? doc : structuredClone(doc));
    if (!spec) throw new InternalError(`variant ${labelFor(overrides)} is invalid after validation passed: ${issues[0]?.message}`);
    const id = shortHash(canonicalJson({ identity: variantIdentity(spec), inputsDigest }));
    variants.push({ index: variants.length, id, label: labelFor(overrides), overrides, spec });
  }
  return { sweepId: shortHash(variants.map((v) => v.id).join(',')), variants };
}
