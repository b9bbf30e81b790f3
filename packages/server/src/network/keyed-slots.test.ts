import assert from "node:assert/strict";
import { test } from "node:test";
import { KeyedSlots } from "./keyed-slots.js";

test("KeyedSlots finds what it stored and never exceeds its capacity under churn", () => {
  const weight = new Float64Array(64);
  const table = new KeyedSlots(64, 3, (slot) => weight[slot]!);
  const owner = new Map<number, number>();
  for (let n = 0; n < 10_000; n++) {
    table.key[0] = n;
    table.key[1] = n * 7;
    table.key[2] = 0xdead;
    const slot = table.findOrInsert();
    assert.equal(table.created, true);
    weight[slot] = n; // newer = heavier: the sampled oldest goes first
    owner.set(slot, n);
    assert.ok(table.size <= 64);
  }
  assert.equal(table.size, 64);
  assert.equal(table.evictions, 10_000 - 64);
  // Every slot's current owner is still found at that slot; evicted keys are not found.
  for (const [slot, n] of owner) {
    table.key[0] = n;
    table.key[1] = n * 7;
    table.key[2] = 0xdead;
    assert.equal(table.find(), slot);
    assert.equal(table.findOrInsert(), slot);
    assert.equal(table.created, false);
  }
  table.key[0] = 0;
  table.key[1] = 0;
  assert.equal(table.find(), -1, "the first key was evicted long ago");
});

test("KeyedSlots evicts the lightest of its samples and bumps the slot's generation", () => {
  const weight = new Float64Array(8).fill(100);
  const table = new KeyedSlots(8, 1, (slot) => weight[slot]!, { samples: 64 });
  for (let n = 0; n < 8; n++) {
    table.key[0] = n;
    table.findOrInsert();
  }
  weight[5] = 1; // the idle one
  const before = table.generation(5);
  table.key[0] = 99;
  assert.equal(table.findOrInsert(), 5);
  assert.equal(table.generation(5), before + 1);
  table.key[0] = 5;
  assert.equal(table.find(), -1);
});
