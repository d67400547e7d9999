import type { TopLevelSpec } from 'vega-lite';

export type HistoryRow = { epoch: number; [metric: string]: number };

const SPLITS = { train: '#1f77b4', validation: '#ff7f0e' };
const PANELS = [
  { title: 'loss', train: 'loss', validation: 'val_loss' },
  { title: 'accuracy', train: 'accuracy', validation: 'val_accuracy' },
];
/** A generation variant has no accuracy: its second panel is the validation perplexity (no train counterpart is measured). */
const GENERATION_PANELS = [PANELS[0], { title: 'perplexity', train: 'perplexity', validation: 'val_perplexity' }];

/**
 * Loss and accuracy per epoch, train against validation, side by side, with the epoch whose
 * weights were kept marked by a dashed rule. Non-finite values are left out, not drawn.
 */
export function learningCurvesSpec(history: HistoryRow[], title: { text: string; subtitle?: string | string[] }, keptEpoch?: number): TopLevelSpec {
  const panel = (p: (typeof PANELS)[number]) => {
    const values = history.flatMap((row) =>
      (['train', 'validation'] as const).flatMap((split) => {
        const value = row[p[split]];
        return Number.isFinite(value) ? [{ epoch: row.epoch, split, value }] : [];
      }),
    );
    const layers: object[] = [
      {
        data: { values },
        mark: { type: 'line', point: { size: 45 }, strokeWidth: 2.5 },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
          y: { field: 'value', type: 'quantitative', title: p.title, scale: { zero: false } },
          color: { field: 'split', type: 'nominal', title: null, scale: { domain: Object.keys(SPLITS), range: Object.values(SPLITS) } },
        },
      },
    ];
    if (keptEpoch !== undefined) {
      layers.push(
        { data: { values: [{ epoch: keptEpoch }] }, mark: { type: 'rule', strokeDash: [6, 4], color: '#444444', strokeWidth: 1.5 }, encoding: { x: { field: 'epoch', type: 'quantitative' } } },
        {
          data: { values: [{ epoch: keptEpoch, label: `kept: epoch ${keptEpoch}` }] },
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, fontSize: 12, color: '#444444' },
          encoding: { x: { field: 'epoch', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
        },
      );
    }
    return { title: { text: p.title, fontSize: 14 }, width: 380, height: 240, layer: layers };
  };
  const panels = history.some((row) => row.val_perplexity !== undefined) ? GENERATION_PANELS : PANELS;
  return { title, hconcat: panels.map(panel), resolve: { scale: { color: 'shared' } } } as TopLevelSpec;
}
