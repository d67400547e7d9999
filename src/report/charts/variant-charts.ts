import type { ArtifactRenderer } from '../../track/local-store.ts';
import { loggedImagePaths } from '../../track/mlflow/images.ts';
import { confusionSpec } from './confusion-matrix.ts';
import { learningCurvesSpec } from './learning-curves.ts';
import { renderChart, type RenderedChart } from './render.ts';

/**
 * The pictures stored (and tracked) with every variant that trained: each as a plain artifact,
 * and again in MLflow's logged-image layout (at the kept epoch's step) so the run comparison's
 * image view shows each variant's curves and matrix side by side.
 */
export const variantCharts: ArtifactRenderer = async ({ variant, history, result, classNames }) => {
  const files: Record<string, Uint8Array> = {};
  const kept = result.bestEpoch;
  const perplexity = result.metrics?.val_perplexity;
  const score = perplexity ?? result.metrics?.val_accuracy;
  const scored = score === undefined ? '' : `: val ${perplexity === undefined ? 'accuracy' : 'perplexity'} ${score.toFixed(4)}${kept === undefined ? '' : ` (kept epoch ${kept})`}`;
  const title = { text: `${variant.label}${scored}`, subtitle: `variant ${variant.id}` as string | string[] };
  const add = (name: string, chart: RenderedChart): void => {
    files[`${name}.png`] = chart.png;
    const paths = loggedImagePaths(name, kept ?? history.at(-1)?.epoch ?? 0, result.finishedAt, `${result.attempt}/${name}`);
    files[paths.full] = chart.png;
    files[paths.compressed] = chart.thumbnail;
  };
  if (history.length) add('learning_curves', await renderChart(learningCurvesSpec(history, title, kept)));
  if (result.confusion) {
    add('confusion_matrix', await renderChart(confusionSpec(result.confusion, classNames, { ...title, subtitle: [`variant ${variant.id}, validation set, kept weights`, 'rows: true class; cells: count and % of the row'] })));
  }
  return files;
};
