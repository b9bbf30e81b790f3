import assert from "node:assert/strict";
import { test } from "node:test";
import { DrillRegistry } from "./drill-registry.js";

test("a drill tags its devices and prefixes only inside its window; ending it stops tagging", () => {
  let now = 1_000_000;
  const drills = new DrillRegistry(() => now);
  assert.equal(drills.drillOf("drill-ab12c-pump-1"), undefined, "nothing before any drill");
  const d = drills.start({ name: "flood", devices: ["meter-7"], prefixes: ["drill-ab12c-"], durationMs: 60_000, by: "alice" });
  assert.equal(drills.drillOf("meter-7"), d.id);
  assert.equal(drills.drillOf("drill-ab12c-pump-1-rogue1"), d.id, "identities the drill creates share its prefix");
  assert.equal(drills.drillOf("meter-8"), undefined);
  assert.equal(drills.drillOfPayload({ device: "meter-7", reason: "x" }), d.id);
  assert.equal(drills.drillOfPayload({ remote: "127.0.0.1" }), undefined, "a signal without a device is not tagged");
  assert.equal(drills.drillOf("meter-7", d.startedAt - 1), undefined, "not before it started");
  now += 30_000;
  assert.equal(drills.end(d.id)?.endsAt, now);
  now += 1;
  assert.equal(drills.drillOf("meter-7"), undefined, "not after it ended");
  assert.equal(drills.drillOf("meter-7", now - 2), d.id, "late evidence stamped inside the window still belongs to it");
  assert.equal(drills.end("drl_unknown"), undefined);
  assert.equal(drills.list()[0]?.id, d.id);
});

test("the registry keeps at most 200 drills, dropping the oldest", () => {
  const drills = new DrillRegistry(() => 5);
  const first = drills.start({ name: "0", devices: ["a"], prefixes: [], durationMs: 1, by: "x" });
  for (let i = 1; i <= 200; i++) drills.start({ name: String(i), devices: ["a"], prefixes: [], durationMs: 1, by: "x" });
  assert.equal(drills.list().length, 200);
  assert.equal(drills.get(first.id), undefined);
});
