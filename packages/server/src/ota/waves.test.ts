import assert from "node:assert/strict";
import { test } from "node:test";
import { NotifyBudget, haltReason, inMaintenanceWindow, planWaves } from "./waves.js";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `dev-${i}`);

test("a plan has a canary of at least one device, then waves of the given share, stable for a campaign", () => {
  const plan = planWaves("cmp_a", ids(100), { canaryPercent: 5, wavePercent: 25 });
  const sizes = [...plan.waveOf.values()].reduce<number[]>((acc, w) => ((acc[w] = (acc[w] ?? 0) + 1), acc), []);
  assert.deepEqual(sizes, [5, 25, 25, 25, 20]);
  assert.equal(plan.waves, 5);
  assert.deepEqual(planWaves("cmp_a", ids(100), { canaryPercent: 5, wavePercent: 25 }).waveOf, plan.waveOf);
  assert.notDeepEqual(planWaves("cmp_b", ids(100), { canaryPercent: 5, wavePercent: 25 }).waveOf, plan.waveOf);
  assert.deepEqual(planWaves("c", ids(3), { canaryPercent: 1, wavePercent: 100 }).waves, 2);
  assert.deepEqual(planWaves("c", ids(3), { canaryPercent: 0, wavePercent: 100 }).waves, 1);
});

test("maintenance windows are daily UTC ranges and may wrap midnight", () => {
  const at = (hhmm: string) => Date.parse(`2026-03-01T${hhmm}:00Z`);
  assert.equal(inMaintenanceWindow(null, at("12:00")), true);
  assert.equal(inMaintenanceWindow({ start: "01:00", end: "03:00" }, at("02:59")), true);
  assert.equal(inMaintenanceWindow({ start: "01:00", end: "03:00" }, at("03:00")), false);
  assert.equal(inMaintenanceWindow({ start: "22:00", end: "04:00" }, at("23:30")), true);
  assert.equal(inMaintenanceWindow({ start: "22:00", end: "04:00" }, at("03:59")), true);
  assert.equal(inMaintenanceWindow({ start: "22:00", end: "04:00" }, at("12:00")), false);
});

test("a campaign halts when failures or trust drops among told devices exceed the threshold", () => {
  const options = { failureThresholdPercent: 10, trustDropThresholdPercent: 20 };
  assert.equal(haltReason({ notified: 0, failed: 0, trustDrops: 0 }, options), null);
  assert.equal(haltReason({ notified: 10, failed: 1, trustDrops: 0 }, options), null);
  assert.equal(haltReason({ notified: 10, failed: 2, trustDrops: 0 }, options), "failures");
  assert.equal(haltReason({ notified: 10, failed: 0, trustDrops: 3 }, options), "trust_drop");
  assert.equal(haltReason({ notified: 10, failed: 1, trustDrops: 0 }, { ...options, failureThresholdPercent: 0 }), "failures");
});

test("the notification budget allows a burst of one second's worth, then the sustained rate", () => {
  const budget = new NotifyBudget(600, 0);
  assert.equal(budget.take(100, 0), 10);
  assert.equal(budget.take(100, 0), 0);
  assert.equal(budget.take(100, 500), 5);
  assert.equal(budget.take(100, 60_000), 10);
  const slow = new NotifyBudget(1, 0);
  assert.equal(slow.take(5, 0), 1);
  assert.equal(slow.take(5, 30_000), 0);
  assert.equal(slow.take(5, 60_000), 1);
});
