/** One class's scores, as scikit-learn's classification_report gives them. */
export interface ClassScore {
  precision: number;
  recall: number;
  f1: number;
  /** Examples whose true class this is. */
  support: number;
}

const ratio = (part: number, whole: number): number => (whole === 0 ? 0 : part / whole);

/**
 * Per-class scores from confusion[true][predicted]. A ratio with nothing to divide by (a class
 * never predicted has no precision, one with no examples no recall) is 0, as scikit-learn's
 * `zero_division=0`: NaN would poison averages and cannot be logged to MLflow as a number.
 */
export function classScores(confusion: readonly (readonly number[])[]): ClassScore[] {
  return confusion.map((row, c) => {
    const truePositives = row[c] ?? 0;
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((n, r) => n + (r[c] ?? 0), 0);
    const precision = ratio(truePositives, predicted);
    const recall = ratio(truePositives, support);
    return { precision, recall, f1: ratio(2 * precision * recall, precision + recall), support };
  });
}
