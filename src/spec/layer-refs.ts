import type { FreezeRange, LoraLayers } from './types.ts';
import { didYouMean } from './hints.ts';

/** Index of a layer given by index (negative from the end, as in Python) or name; undefined when absent. */
export function findLayer(layers: readonly { name: string }[], ref: number | string): number | undefined {
  if (typeof ref === 'number') {
    const i = ref < 0 ? layers.length + ref : ref;
    return i >= 0 && i < layers.length ? i : undefined;
  }
  const i = layers.findIndex((l) => l.name === ref);
  return i < 0 ? undefined : i;
}

export interface FreezeIssue {
  /** Index of the range in `freeze`, and the field at fault. */
  range: number;
  field: 'from' | 'to' | 'match';
  message: string;
}

/**
 * Which layers the ranges freeze. Ranges are inclusive and may overlap; a range that names no
 * layer is an error rather than a silent no-op, because a typo there would train the backbone.
 */
export function resolveFreezeRanges(
  layers: readonly { name: string }[],
  ranges: readonly FreezeRange[],
): { frozen: boolean[]; issues: FreezeIssue[] } {
  const frozen = layers.map(() => false);
  const issues: FreezeIssue[] = [];
  ranges.forEach((range, r) => {
    if ('match' in range) {
      const re = new RegExp(range.match);
      let hits = 0;
      layers.forEach((l, i) => {
        if (re.test(l.name)) (frozen[i] = true), hits++;
      });
      if (!hits) issues.push({ range: r, field: 'match', message: `/${range.match}/ matches no layer` });
      return;
    }
    const ends = (['from', 'to'] as const).map((field) => {
      const i = findLayer(layers, range[field]);
      if (i === undefined) {
        const ref = range[field];
        issues.push({
          range: r,
          field,
          message:
            typeof ref === 'number'
              ? `layer index ${ref} is out of range: the model has ${layers.length} layers (0..${layers.length - 1}, or -${layers.length}..-1)`
              : `no layer named "${ref}"${didYouMean(ref, layers.map((l) => l.name))}`,
        });
      }
      return i;
    });
    const [from, to] = ends;
    if (from === undefined || to === undefined) return;
    if (from > to) {
      issues.push({ range: r, field: 'to', message: `range ends (layer ${to}) before it starts (layer ${from})` });
      return;
    }
    for (let i = from; i <= to; i++) frozen[i] = true;
  });
  return { frozen, issues };
}

/** The decoder blocks (`model.layers.N`) among a Llama model's layers, with their block index: what LoRA adapts. */
export function blockLayers(layers: readonly { name: string }[]): { name: string; index: number }[] {
  return layers.flatMap((l) => {
    const m = /^model\.layers\.(\d+)$/.exec(l.name);
    return m ? [{ name: l.name, index: Number(m[1]) }] : [];
  });
}

/**
 * The block indexes `lora.layers` chooses (every block when it is absent), and what it names wrong.
 * Its `from`/`to` are block indexes (negative from the last) or block names; `match` is a regular
 * expression on block names.
 */
export function loraBlocks(layers: readonly { name: string }[], range: LoraLayers | undefined): { blocks: number[]; issues: Omit<FreezeIssue, 'range'>[] } {
  const blocks = blockLayers(layers);
  if (!range) return { blocks: blocks.map((b) => b.index), issues: [] };
  const { frozen: chosen, issues } = resolveFreezeRanges(blocks, [range]);
  return {
    blocks: blocks.filter((_, i) => chosen[i]).map((b) => b.index),
    issues: issues.map(({ field, message }) => ({
      field,
      message: message
        .replace(/^no layer named/, 'no decoder block named')
        .replace('matches no layer', 'matches no decoder block (model.layers.0 …)')
        .replace(/the model has (\d+) layers/, 'the decoder has $1 blocks'),
    })),
  };
}
