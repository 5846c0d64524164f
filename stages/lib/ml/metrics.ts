/** Classification metrics from true and predicted labels: pure functions over plain arrays. */

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Classification {
  accuracy: number;
  macro_precision: number;
  macro_recall: number;
  macro_f1: number;
  per_class: ClassMetrics[];
}

/** matrix[t][p] = number of images of true class t predicted as p. */
export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]!]![predicted[i]!]!++;
  return m;
}

/**
 * Per-class precision/recall/F1 and their unweighted (macro) means. A class never predicted has
 * precision 0 and a class with no images recall 0, as scikit-learn does with zero_division=0.
 */
export function classification(matrix: number[][]): Classification {
  const k = matrix.length;
  let total = 0;
  let correct = 0;
  const perClass: ClassMetrics[] = [];
  for (let c = 0; c < k; c++) {
    const tp = matrix[c]![c]!;
    let support = 0;
    let predicted = 0;
    for (let j = 0; j < k; j++) {
      support += matrix[c]![j]!;
      predicted += matrix[j]![c]!;
    }
    total += support;
    correct += tp;
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass.push({ precision, recall, f1, support });
  }
  const mean = (f: (m: ClassMetrics) => number) => (k ? perClass.reduce((s, m) => s + f(m), 0) / k : 0);
  return {
    accuracy: total ? correct / total : 0,
    macro_precision: mean((m) => m.precision),
    macro_recall: mean((m) => m.recall),
    macro_f1: mean((m) => m.f1),
    per_class: perClass,
  };
}

/** Rounds for output files: stable text, no float noise past what the data supports. */
export const round6 = (x: number) => Number(x.toFixed(6));
