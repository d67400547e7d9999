/**
 * How tunespec's metrics are named in MLflow. The MLflow UI groups charts into sections by the
 * prefix before the first `/`, so names say what they measure: `train/*` and `val/*` per epoch,
 * `kept/*` for the weights a variant keeps (its score), `best/*` for a sweep's winner, and `diag/*`
 * for timings and checks nobody ranks by. The local store keeps its own flat names
 * (`val_accuracy` in metrics.jsonl and result.json); this is the only place they are translated.
 */

/** Timings per epoch: diagnostics, not results. */
const DIAGNOSTIC = new Set(['epoch_seconds', 'examples_per_second', 'tokens_per_second']);

/** The MLflow name of a per-epoch metric or a result metric of the local store. */
export function mlflowMetricName(local: string): string {
  if (local.startsWith('val_')) return `val/${local.slice('val_'.length)}`;
  if (DIAGNOSTIC.has(local)) return `diag/${local}`;
  return `train/${local}`;
}

/** The kept weights' score on `local` (`val_accuracy` → `kept/val/accuracy`): what runs are ranked by. */
export function keptMetricName(local: string): string {
  return `kept/${mlflowMetricName(local)}`;
}

/** A sweep's winner's score on `local`, logged to the parent run (`val_accuracy` → `best/val/accuracy`). */
export function bestMetricName(local: string): string {
  return `best/${mlflowMetricName(local)}`;
}

/** The MLflow name of a variant's result metric (result.json): the kept weights' scores, when they were kept, and how long it trained. */
export function resultMetricName(local: string): string {
  if (local === 'kept_epoch') return 'kept/epoch';
  if (local === 'epochs_run') return 'diag/epochs_run';
  return keptMetricName(local);
}
