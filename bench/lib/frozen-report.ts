// The frozen-backbone bench's report: the tables bench/README.md carries, from the outcomes of
// every round (medians), the seed spreads and the feature comparison.
import { spawnSync } from 'node:child_process';
import { median } from './measure.ts';

export const ALL_PARTS = ['keras-a', 'keras-b', 'ts-cold', 'ts-warm', 'ts-off', 'keras-c', 'ts-unfreeze-off', 'ts-unfreeze-on', 'spec', 'seed-spread'] as const;
export type Part = (typeof ALL_PARTS)[number];

/** One job of a round: a Keras peer or a tunespec run, with what it reports. */
export interface Outcome {
  seconds: number;
  /** User + system CPU seconds of the child and its children: less sensitive than wall time to a busy machine. */
  cpuSeconds: number;
  rssMiB: number;
  /** Final-epoch validation accuracy by learning rate (as a string). */
  accuracy: Record<string, number>;
  examplesPerSecond?: number;
  detail: string;
}

/** Final validation accuracy by learning rate, one entry per seed (in `seeds` order). */
export type Spread = { seeds: number[]; val_accuracy: Record<string, number[]> };
export type SpreadKey = 'keras-b' | 'keras-c' | 'ts-frozen' | 'ts-unfreeze';
export interface FeatureParity { max_abs_diff: number; mean_abs_diff: number; max_abs_feature: number }

export interface SpecRows { rows: string[]; base: string }

export interface BenchResults {
  /** First and last measurement (a merged invocation's first counts). */
  measured: [Date, Date];
  /** How many earlier invocations' runs were merged in. */
  merged: number;
  outcomes: Map<Part, Outcome[]>;
  spreads: Partial<Record<SpreadKey, Spread>>;
  featureParity?: FeatureParity;
  specRows?: SpecRows;
}

export function renderReport({ measured, merged, outcomes, spreads, featureParity, specRows }: BenchResults): string {
  const LABEL: Record<Part, string> = {
    'keras-a': 'Keras (a): guide, `base.trainable = False`, `fit`',
    'keras-b': 'Keras (b): features once by hand',
    'ts-cold': 'tunespec, feature cache cold',
    'ts-warm': 'tunespec, feature cache warm',
    'ts-off': 'tunespec, `--no-feature-cache`',
    'keras-c': 'Keras (c): top block trainable',
    'ts-unfreeze-off': 'tunespec, top block trainable, `--no-feature-cache`',
    'ts-unfreeze-on': 'tunespec, top block trainable, feature cache cold',
    spec: 'spec throughput',
    'seed-spread': 'seed spread',
  };
  const wall = (p: Part) => (outcomes.get(p)?.length ? median(outcomes.get(p)!.map((o) => o.seconds)) : undefined);
  const cpu = (p: Part): string => {
    const xs = outcomes.get(p)!.map((o) => o.cpuSeconds).filter((x) => Number.isFinite(x));
    return xs.length ? `${median(xs).toFixed(0)} s` : '–';
  };
  const rss = (p: Part) => Math.max(...(outcomes.get(p) ?? []).map((o) => o.rssMiB));
  const medianAcc = (p: Part): Record<string, number> => {
    const os = outcomes.get(p) ?? [];
    const lrs = [...new Set(os.flatMap((o) => Object.keys(o.accuracy)))].sort((a, b) => Number(b) - Number(a));
    return Object.fromEntries(lrs.map((lr) => [lr, median(os.map((o) => o.accuracy[lr]!).filter((a) => a !== undefined))]));
  };
  // Two decimals: 2,000 validation images make accuracies multiples of 0.05 points.
  const pct = (a: number | undefined) => (a === undefined || Number.isNaN(a) ? '–' : `${(a * 100).toFixed(2)}%`);
  const mostRuns = Math.max(0, ...[...outcomes.values()].map((os) => os.length));

  const lines: string[] = [];
  const cpuModel = /Model name:\s*(.+)/.exec(spawnSync('lscpu', { encoding: 'utf8' }).stdout ?? '')?.[1]?.trim() ?? '?';
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
  lines.push(
    `Measured ${measured.map((d) => d.toISOString().slice(0, 16).replace('T', ' ')).join(' to ')} UTC on ${nproc} cores (${cpuModel}), no GPU; each timed part ran up to ${mostRuns} time(s), in rounds of alternating order` +
      (merged ? `, with the runs of ${merged} earlier invocation(s) merged in (the \`runs\` column counts them all).` : '.'),
  );

  function sweepTable(ps: Part[], reference: Part[], title: string): void {
    const present = ps.filter((p) => outcomes.has(p));
    if (!present.length) return;
    const lrs = [...new Set(present.flatMap((p) => Object.keys(medianAcc(p))))].sort((a, b) => Number(b) - Number(a));
    lines.push('', `**${title}**`, '');
    lines.push(`| run | runs | median wall | median CPU | ${reference.filter((r) => outcomes.has(r)).map((r) => `/ ${r}`).join(' | ')}${reference.some((r) => outcomes.has(r)) ? ' | ' : ''}peak RSS | ${lrs.map((lr) => `val acc lr ${lr}`).join(' | ')} |`);
    lines.push(`|---|---|---|---|${reference.filter((r) => outcomes.has(r)).map(() => '---|').join('')}---|${lrs.map(() => '---|').join('')}`);
    for (const p of present) {
      const acc = medianAcc(p);
      const ratios = reference.filter((r) => outcomes.has(r)).map((r) => (wall(r) ? `${(wall(p)! / wall(r)!).toFixed(2)}` : '–'));
      lines.push(`| ${LABEL[p]} | ${outcomes.get(p)!.length} | ${wall(p)!.toFixed(1)} s | ${cpu(p)} | ${ratios.join(' | ')}${ratios.length ? ' | ' : ''}${(rss(p) / 1024).toFixed(2)} GiB | ${lrs.map((lr) => pct(acc[lr])).join(' | ')} |`);
    }
    agreement(present, lrs, 'keras-b');
  }

  /** Every Keras part against every tunespec part, every learning rate (medians over rounds); a
   * gap is put next to Keras's own seed-to-seed spread when the seed-spread part ran. */
  function agreement(present: Part[], lrs: string[], spreadKey: SpreadKey): void {
    const spread = spreads[spreadKey];
    const flags = new Map<string, { text: string; pairs: string[] }>();
    for (const k of present.filter((p) => p.startsWith('keras'))) {
      for (const t of present.filter((p) => p.startsWith('ts-'))) {
        const a = medianAcc(k);
        const b = medianAcc(t);
        for (const lr of lrs) {
          if (a[lr] === undefined || b[lr] === undefined) continue;
          const d = Math.abs(a[lr]! - b[lr]!) * 100;
          // Within 1 point includes exactly 1 (20 of 2,000 examples), which floats put a hair above.
          if (d <= 1 + 1e-9) continue;
          const range = spread?.val_accuracy[String(Number(lr))];
          const inside = range && b[lr]! >= Math.min(...range) - 1e-9 && b[lr]! <= Math.max(...range) + 1e-9;
          const note = range ? (inside ? ', inside Keras\'s seed spread' : ', OUTSIDE Keras\'s seed spread') : '';
          const key = `${lr}:${a[lr]}:${b[lr]}`;
          const flag = flags.get(key) ?? { text: `lr ${lr}: Keras ${pct(a[lr])} vs tunespec ${pct(b[lr])} (${d.toFixed(2)} points${note})`, pairs: [] };
          flag.pairs.push(`${k}/${t}`);
          flags.set(key, flag);
        }
      }
    }
    lines.push('', flags.size ? `Accuracies disagree by more than 1 point: ${[...flags.values()].map((f) => `${f.text} [${f.pairs.join(', ')}]`).join('; ')}.` : 'Every variant\'s accuracy agrees within 1 point across tools.');
  }

  sweepTable(['keras-a', 'keras-b', 'ts-cold', 'ts-warm', 'ts-off'], ['keras-a', 'keras-b'], 'Frozen-backbone sweep: 4 learning rates x 5 epochs, 8,000 train / 2,000 validation images, batch 64');
  if (wall('ts-cold') && wall('ts-off')) lines.push(`Feature cache on (cold) / off: ${(wall('ts-cold')! / wall('ts-off')!).toFixed(3)}${wall('ts-warm') ? `; warm / off: ${(wall('ts-warm')! / wall('ts-off')!).toFixed(3)}` : ''}.`);

  const unfreeze = (['keras-c', 'ts-unfreeze-off', 'ts-unfreeze-on'] as Part[]).filter((p) => outcomes.has(p));
  if (unfreeze.length) {
    const eps = (p: Part) => median(outcomes.get(p)!.map((o) => o.examplesPerSecond ?? NaN));
    const lrs = [...new Set(unfreeze.flatMap((p) => Object.keys(medianAcc(p))))];
    lines.push('', `**Partial unfreeze: block_16, Conv_1 and the head trainable, 2 epochs at lr ${lrs.join(', ')} (examples/s of the last epoch, validation pass included, as tunespec counts)**`, '');
    lines.push('| run | runs | examples/s | / Keras (c) | median wall | median CPU | peak RSS | val acc |', '|---|---|---|---|---|---|---|---|');
    for (const p of unfreeze) {
      const ratio = outcomes.has('keras-c') ? (eps(p) / eps('keras-c')).toFixed(2) : '–';
      lines.push(`| ${LABEL[p]} | ${outcomes.get(p)!.length} | ${eps(p).toFixed(0)} | ${ratio} | ${wall(p)!.toFixed(1)} s | ${cpu(p)} | ${(rss(p) / 1024).toFixed(2)} GiB | ${Object.values(medianAcc(p)).map(pct).join(', ')} |`);
    }
    agreement(unfreeze, lrs, 'keras-c');
  }

  const SPREAD_LABEL: Record<SpreadKey, string> = {
    'keras-b': 'Keras (b), frozen sweep',
    'ts-frozen': 'tunespec, frozen sweep',
    'keras-c': 'Keras (c), top block trainable',
    'ts-unfreeze': 'tunespec, top block trainable',
  };
  const spreadRows = (Object.keys(SPREAD_LABEL) as SpreadKey[]).filter((k) => spreads[k]);
  if (spreadRows.length) {
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const lrs = [...new Set(spreadRows.flatMap((k) => Object.keys(spreads[k]!.val_accuracy)))].sort((a, b) => Number(b) - Number(a));
    lines.push('', `**Seed spread** (untimed): final validation accuracy over seeds ${spreads[spreadRows[0]!]!.seeds.join(', ')} (head initialisation and shuffling), min–max and mean`, '');
    lines.push(`| run | ${lrs.map((lr) => `lr ${lr}`).join(' | ')} |`, `|---|${lrs.map(() => '---|').join('')}`);
    for (const k of spreadRows) {
      const v = spreads[k]!.val_accuracy;
      lines.push(`| ${SPREAD_LABEL[k]} | ${lrs.map((lr) => (v[lr] ? `${pct(Math.min(...v[lr]!))}–${pct(Math.max(...v[lr]!))} (${pct(mean(v[lr]!))})` : '')).join(' | ')} |`);
    }
    const gaps: string[] = [];
    for (const [k, t] of [['keras-b', 'ts-frozen'], ['keras-c', 'ts-unfreeze']] as const) {
      if (!spreads[k] || !spreads[t]) continue;
      for (const lr of Object.keys(spreads[k]!.val_accuracy)) {
        const a = spreads[k]!.val_accuracy[lr];
        const b = spreads[t]!.val_accuracy[lr];
        if (a && b) gaps.push(`${SPREAD_LABEL[t].replace('tunespec, ', '')} lr ${lr}: ${(Math.abs(mean(a) - mean(b)) * 100).toFixed(1)}`);
      }
    }
    if (gaps.length) lines.push('', `Mean over the seeds, |Keras − tunespec| in points: ${gaps.join('; ')}.`);
  }
  if (featureParity) {
    lines.push('', `**Features**: tunespec's cached out_relu features vs Keras's \`base.predict\`, every example: max |diff| ${featureParity.max_abs_diff.toExponential(2)}, mean ${featureParity.mean_abs_diff.toExponential(2)} (largest |feature| ${featureParity.max_abs_feature.toFixed(2)}).`);
  }
  if (specRows) {
    lines.push('', `**Spec throughput** (grid over learning rate, batch size, training seed and validation seed on ${specRows.base}; each timing is a whole \`tunespec\` process)`, '');
    lines.push('| command | wall | throughput | peak RSS |', '|---|---|---|---|', ...specRows.rows);
  }

  return lines.join('\n');
}
