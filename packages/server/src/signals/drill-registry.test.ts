import assert from "node:assert/strict";
import { test } from "node:test";
import { DrillRegistry, type Drill, type DrillRepository } from "./drill-registry.js";

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

/** The store's contract in memory (the SQL repositories are checked by the repository suite). */
function memoryRepository(): DrillRepository & { rows: Map<string, Drill> } {
  const rows = new Map<string, Drill>();
  return {
    rows,
    async save(d) {
      const known = rows.get(d.id);
      rows.set(d.id, { ...d, endsAt: known === undefined ? d.endsAt : Math.min(known.endsAt, d.endsAt) });
    },
    async recent(limit) {
      return [...rows.values()].sort((a, b) => b.startedAt - a.startedAt).slice(0, limit);
    },
  };
}

test("drills kept in a store: a restarted node still tags, another node learns of a drill and of its early end", async () => {
  let now = 5_000_000;
  const repository = memoryRepository();
  const nodeA = new DrillRegistry(() => now);
  await nodeA.load(repository);
  const d = nodeA.start({ name: "flood", devices: ["meter-7"], prefixes: [], durationMs: 60_000, by: "alice" });
  await nodeA.save(d);

  const restarted = new DrillRegistry(() => now);
  assert.equal(restarted.drillOf("meter-7"), undefined, "nothing before it reads the store");
  await restarted.load(repository);
  assert.equal(restarted.drillOf("meter-7"), d.id, "a restart keeps tagging the drill's devices");

  const nodeB = new DrillRegistry(() => now);
  await nodeB.load(repository);
  now += 10_000;
  const ended = nodeB.end(d.id);
  assert.ok(ended !== undefined);
  await nodeB.save(ended);
  now += 1;
  assert.equal(nodeA.drillOf("meter-7"), d.id, "node A has not re-read the store yet");
  await nodeA.load(repository);
  assert.equal(nodeA.drillOf("meter-7"), undefined, "ended on node B, so no longer tagged on node A");
  assert.equal(nodeA.list().length, 1, "one drill, not a copy per node");
  const other = nodeA.start({ name: "recon", devices: ["cam-1"], prefixes: [], durationMs: 1_000, by: "bob" });
  assert.notEqual(other.id, d.id);
  assert.match(other.id, /^drl_[0-9a-z]+[0-9a-f]{6}$/);
});
