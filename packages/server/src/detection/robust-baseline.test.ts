import assert from "node:assert/strict";
import { test } from "node:test";
import { FEATURE_COUNT, RobustBaseline } from "./robust-baseline.js";
import { explain } from "./detector.js";

/** Deterministic PRNG (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normalWindow(rand: () => number, x: Float64Array): Float64Array {
  // ~1 msg/s of ~200 B, one topic, regular.
  x[0] = 1 + (rand() - 0.5) * 0.2;
  x[1] = x[0] * (200 + (rand() - 0.5) * 40);
  x[2] = 200 + (rand() - 0.5) * 40;
  x[3] = 10 + rand() * 5;
  x[4] = 0;
  x[5] = 0.1 + rand() * 0.05;
  x[6] = 0;
  x[7] = 0;
  return x;
}

test("the baseline learns a seeded normal stream within a few dozen windows and does not flag it", () => {
  const rand = seeded(7);
  const b = new RobustBaseline();
  const x = new Float64Array(FEATURE_COUNT);
  const out = new Float64Array(2);
  for (let i = 0; i < 30; i++) b.update(normalWindow(rand, x));
  let worst = 0;
  for (let i = 0; i < 500; i++) {
    worst = Math.max(worst, b.score(normalWindow(rand, x), out));
    b.update(x);
  }
  assert.ok(worst < 8, `benign windows stay under the default threshold (worst ${worst})`);
  assert.ok(Math.abs((b.mean[2] as number) - 200) < 10, "mean payload size learnt");
});

test("a byte spike is scored far above the threshold and explained by the features that moved", () => {
  const rand = seeded(11);
  const b = new RobustBaseline();
  const x = new Float64Array(FEATURE_COUNT);
  const out = new Float64Array(2);
  for (let i = 0; i < 60; i++) b.update(normalWindow(rand, x));
  normalWindow(rand, x);
  x[1] = 50_000;
  x[2] = 40_000;
  x[4] = 3;
  const score = b.score(x, out);
  assert.ok(score > 50, `score ${score}`);
  const why = explain(b, x, 4).map((d) => d.feature);
  assert.deepEqual(new Set(why), new Set(["bytes_per_s", "payload_mean_bytes", "new_topics"]));
  // Fewer messages than usual is not a threat (one-sided features).
  normalWindow(rand, x);
  x[0] = 0.01;
  x[1] = 2;
  assert.ok(b.score(x, out) < 8);
});

test("attack windows learnt by mistake barely move the baseline (clipped residuals)", () => {
  const rand = seeded(3);
  const b = new RobustBaseline();
  const x = new Float64Array(FEATURE_COUNT);
  for (let i = 0; i < 60; i++) b.update(normalWindow(rand, x));
  const before = b.mean[1] as number;
  for (let i = 0; i < 3; i++) {
    normalWindow(rand, x);
    x[1] = 1e6;
    b.update(x);
  }
  assert.ok((b.mean[1] as number) < before * 1.5, `mean bytes/s ${b.mean[1]} vs ${before}`);
});

test("a seeded baseline takes the medians: one device's attack windows among the first do not set its level or its tail; bursts two devices show do", () => {
  const rand = seeded(5);
  const count = 12;
  const windows = new Float64Array(count * FEATURE_COUNT);
  const sources = new Float64Array(count);
  const x = new Float64Array(FEATURE_COUNT);
  for (let w = 0; w < count; w++) {
    normalWindow(rand, x);
    sources[w] = w % 6; // six devices
    if (sources[w] === 0) x[0] = 50; // device 0 floods from its first window
    if (w === 1 || w === 2) x[2] = 900; // devices 1 and 2 each send one large reading
    windows.set(x, w * FEATURE_COUNT);
  }
  const b = new RobustBaseline();
  b.seed(windows, sources, count);
  assert.equal(b.n, count);
  assert.ok(Math.abs((b.mean[0] as number) - 1) < 0.2, `messages/s level ${b.mean[0]}`);
  assert.ok((b.hi[0] as number) < 2, `one device's flood is not the group's tail: ${b.hi[0]}`);
  assert.equal(b.hi[2], 900, "a burst two devices showed is");
  const out = new Float64Array(2);
  normalWindow(rand, x);
  x[0] = 50;
  assert.ok(b.score(x, out) > 50, "the flood scores far above the threshold");
});
