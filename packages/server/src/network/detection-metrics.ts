/**
 * ROC figures of a detector's scores against labels (1 = attack): area under the curve (ties
 * counted half), equal error rate, and the true-positive rate at a false-positive budget.
 */
export interface RocFigures {
  readonly auc: number;
  readonly eer: number;
  /** TPR at FPR <= 0.1 %. */
  readonly tprAt01PctFpr: number;
  readonly positives: number;
  readonly negatives: number;
}

export function rocFigures(scores: ArrayLike<number>, labels: ArrayLike<number>, from = 0, to = scores.length): RocFigures {
  const idx: number[] = [];
  for (let i = from; i < to; i++) idx.push(i);
  // Descending score: walk thresholds from strict to lenient.
  idx.sort((a, b) => scores[b]! - scores[a]!);
  let P = 0;
  let N = 0;
  for (const i of idx) {
    if (labels[i]) P++;
    else N++;
  }
  if (P === 0 || N === 0) return { auc: Number.NaN, eer: Number.NaN, tprAt01PctFpr: Number.NaN, positives: P, negatives: N };
  let tp = 0;
  let fp = 0;
  let auc = 0;
  let eer = 1;
  let bestGap = Infinity;
  let tprAt = 0;
  for (let k = 0; k < idx.length;) {
    // All packets with the same score move together (a tie is one threshold).
    const s = scores[idx[k]!]!;
    let dtp = 0;
    let dfp = 0;
    while (k < idx.length && scores[idx[k]!] === s) {
      if (labels[idx[k]!]) dtp++;
      else dfp++;
      k++;
    }
    auc += dfp * (tp + dtp / 2);
    tp += dtp;
    fp += dfp;
    const tpr = tp / P;
    const fpr = fp / N;
    if (fpr <= 0.001) tprAt = Math.max(tprAt, tpr);
    const gap = Math.abs(fpr - (1 - tpr));
    if (gap < bestGap) {
      bestGap = gap;
      eer = (fpr + (1 - tpr)) / 2;
    }
  }
  return { auc: auc / (P * N), eer, tprAt01PctFpr: tprAt, positives: P, negatives: N };
}
