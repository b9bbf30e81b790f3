import assert from "node:assert/strict";
import { test } from "node:test";
import { rocFigures } from "./detection-metrics.js";

test("ROC figures: perfect, inverted, tied and partial separations", () => {
  const labels = [0, 0, 0, 0, 1, 1];
  assert.deepEqual(rocFigures([1, 2, 3, 4, 5, 6], labels), { auc: 1, eer: 0, tprAt01PctFpr: 1, positives: 2, negatives: 4 });
  assert.equal(rocFigures([6, 5, 4, 3, 2, 1], labels).auc, 0);
  assert.equal(rocFigures([1, 1, 1, 1, 1, 1], labels).auc, 0.5);
  // One negative above one positive: 7 of 8 pairs ordered.
  const r = rocFigures([1, 2, 3, 5.5, 5, 6], labels);
  assert.equal(r.auc, 7 / 8);
  assert.equal(r.tprAt01PctFpr, 0.5);
  assert.ok(Math.abs(r.eer - 0.375) < 1e-12, String(r.eer));
  // The range excludes a training prefix.
  assert.equal(rocFigures([9, 9, 1, 2, 5, 6], labels, 2).auc, 1);
  assert.ok(Number.isNaN(rocFigures([1, 2], [0, 0]).auc));
});
