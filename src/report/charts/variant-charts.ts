import type { ArtifactRenderer } from '../../track/local-store.ts';
import { renderConfusionMatrix } from './confusion-matrix.ts';
import { renderLearningCurves } from './learning-curves.ts';

/** The pictures stored (and tracked) with every variant that trained. */
export const variantCharts: ArtifactRenderer = ({ variant, history, result, classNames }) => {
  const files: Record<string, Uint8Array> = {};
  if (history.length) files['learning_curves.png'] = renderLearningCurves(history, `${variant.label} (${variant.id})`);
  if (result.confusion) files['confusion_matrix.png'] = renderConfusionMatrix(result.confusion, classNames, `validation, kept epoch ${result.bestEpoch}`);
  return files;
};
