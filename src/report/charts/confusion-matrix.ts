import type { TopLevelSpec } from 'vega-lite';

/** A cell's side in pixels: room for its count and its row percentage at 1×. */
const CELL = 60;

/**
 * The confusion matrix as a heatmap, true class by row, predicted by column; each cell shows its
 * count and its share of the row (the recall of the diagonal), coloured by that share so classes
 * of different sizes compare.
 */
export function confusionSpec(matrix: number[][], classNames: string[], title: { text: string; subtitle?: string | string[] }): TopLevelSpec {
  const names = matrix.map((_, i) => classNames[i] ?? String(i));
  const values = matrix.flatMap((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count, j) => {
      const share = total ? (100 * count) / total : 0;
      return { actual: names[i], predicted: names[j], count, share, shareText: `${Math.round(share)}%` };
    });
  });
  const cell = { field: 'share', type: 'quantitative' } as const;
  const ink = { condition: { test: 'datum.share > 55', value: 'white' }, value: '#1e1e1e' };
  return {
    title,
    data: { values },
    width: { step: CELL },
    height: { step: CELL },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: names, title: 'predicted', axis: { labelAngle: -30, labelLimit: 120, orient: 'top' } },
      y: { field: 'actual', type: 'nominal', sort: names, title: 'true class', axis: { labelLimit: 140 } },
    },
    layer: [
      { mark: { type: 'rect', stroke: 'white', strokeWidth: 1 }, encoding: { color: { ...cell, title: '% of row', scale: { domain: [0, 100], scheme: 'blues' }, legend: { orient: 'right' } } } },
      { mark: { type: 'text', fontSize: 14, fontWeight: 'bold', dy: -8 }, encoding: { text: { field: 'count', type: 'quantitative' }, color: ink } },
      { mark: { type: 'text', fontSize: 11, dy: 9 }, encoding: { text: { field: 'shareText', type: 'nominal' }, color: ink } },
    ],
  } as TopLevelSpec;
}
