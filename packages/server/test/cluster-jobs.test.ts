// Periodic jobs with two full nodes (Platforms) on one PostgreSQL database and one Redis
// (docs/scale.md "Jobs that run once per cluster"): the response sweep releases a timed
// mitigation exactly once, whichever node opened the incident and even when that node is gone;
// trust credits a device's clean time on the node holding its session only.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { MqttClient } from "mqtt";
import type { SignalMap } from "../src/signals/index.js";
import { bounded, needServices, redisDb, startAnotherControl, startControl, suffix, until } from "./cluster-support.js";
import { connectDevice, enrollDevice, recordSignals } from "./gateway-support.js";
import { freshDatabase, needPostgres } from "./postgres-support.js";
import { tempDir, type TestPlatform } from "./support.js";

function finding(node: TestPlatform, device: string, rule: "exfiltration" | "flood"): void {
  node.platform.bus.emit("finding.raised", {
    id: `f-${suffix()}`,
    device,
    rule,
    severity: "high",
    category: rule,
    evidence: JSON.stringify({ test: true }),
  });
}

test("two nodes on one store: a timed quarantine decided on node A is released exactly once, by one node, also when node A is gone", async (t) => {
  if (!(await needServices(t)) || !(await needPostgres(t))) return;
  const redis = await redisDb(12);
  const pg = await freshDatabase();
  const prefix = `t${suffix()}`;
  const dir = tempDir("vigil-cluster-jobs-");
  // Exfiltration: held 1 s; flood: held 6 s (long enough to stop node A before it expires).
  const playbooks = join(dir.path, "playbooks.yaml");
  writeFileSync(
    playbooks,
    `- id: short-hold
  match: { rules: [exfiltration] }
  actions: [{ type: quarantine, expiresAfterMs: 1000 }]
  approval: { require: never }
- id: long-hold
  match: { rules: [flood] }
  actions: [{ type: quarantine, expiresAfterMs: 6000 }]
  approval: { require: never }
`,
  );
  const flags = { "response-playbooks-file": playbooks, "response-tick-ms": "100" };
  const a = await startControl(redis.url, prefix, pg.url, { "cluster-node-id": "node-a", ...flags });
  let aStopped = false;
  const others: TestPlatform[] = [];
  const clients: MqttClient[] = [];
  t.after(() =>
    bounded("stopping the nodes", async () => {
      for (const c of clients) await c.endAsync(true).catch(() => undefined);
      if (!aStopped) await a.stop();
      for (const n of others) await n.stop();
      await redis.clean();
      await pg.drop();
      dir.remove();
    }),
  );
  const nodeB = await startAnotherControl(a, {
    redisUrl: redis.url,
    prefix,
    postgresUrl: pg.url,
    nodeId: "node-b",
    extra: flags,
  });
  others.push(nodeB);

  // Two devices enrolled through node A, connected to node B.
  const s = suffix();
  const [d1, d2] = [`meter-${s}-1`, `meter-${s}-2`];
  for (const id of [d1, d2])
    clients.push(await connectDevice(nodeB.platform.gateway.url, await enrollDevice(a.platform, dir.path, id, "smart-meter")));
  await until(() => [d1, d2].every((d) => nodeB.platform.gateway.policyOf(d) !== undefined), 10_000, "both sessions on node B");
  const natural = nodeB.platform.gateway.policyOf(d1)?.tier;
  assert.ok(natural !== undefined && natural !== "quarantine", `a new device starts above quarantine (${natural})`);

  const onA = recordSignals(a.platform, ["response.action_taken"]);
  const onB = recordSignals(nodeB.platform, ["response.action_taken"]);
  const releasesOf = (device: string): SignalMap["response.action_taken"][] =>
    [...onA.of("response.action_taken"), ...onB.of("response.action_taken")].filter(
      (x) => x.device === device && x.action === "release",
    );
  const tierOnB = (device: string) => nodeB.platform.gateway.policyOf(device)?.tier;

  // 1. Both nodes alive: the incident is opened on A, the device is held on B, one release.
  finding(a, d1, "exfiltration");
  await until(() => tierOnB(d1) === "quarantine", 10_000, "d1 quarantined on node B");
  await until(() => releasesOf(d1).length > 0, 15_000, "d1's quarantine to be released");
  await until(() => tierOnB(d1) !== "quarantine", 10_000, "d1 back above quarantine on node B");
  await new Promise((r) => setTimeout(r, 1000)); // 10 more sweeps on each node
  assert.equal(releasesOf(d1).length, 1, "released once in the cluster");
  assert.equal(releasesOf(d1)[0]?.by, "system");
  const [first] = await nodeB.platform.response.list({ limit: 1, device: d1 });
  assert.ok(first !== undefined);
  assert.equal(first.mitigation, null);
  assert.equal(first.timeline.filter((e) => e.ref === "release").length, 1, "one release on the incident's timeline");
  assert.equal(a.platform.response.floor(d1, "standard"), "standard", "node A no longer holds d1 down");
  assert.equal(nodeB.platform.response.floor(d1, "standard"), "standard");

  // 2. The incident is opened on A; node B learns of its mitigation; A stops before it expires.
  finding(a, d2, "flood");
  await until(() => tierOnB(d2) === "quarantine", 10_000, "d2 quarantined on node B");
  await until(() => nodeB.platform.response.floor(d2, "standard") === "quarantine", 5_000, "node B to hold d2 down too");
  const [held] = await nodeB.platform.response.list({ limit: 1, device: d2 });
  assert.ok(held?.mitigation?.until != null);
  await a.stop();
  aStopped = true;
  assert.ok(Date.now() < held.mitigation.until, "node A stopped before the quarantine expired");
  assert.equal(releasesOf(d2).length, 0);
  await until(() => releasesOf(d2).length > 0, 20_000, "node B to release d2");
  await until(() => tierOnB(d2) !== "quarantine", 10_000, "d2 back above quarantine on node B");
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(releasesOf(d2).length, 1, "released once, by node B");
  assert.equal(onB.of("response.action_taken").filter((x) => x.device === d2 && x.action === "release").length, 1);
  const [after] = await nodeB.platform.response.list({ limit: 1, device: d2 });
  assert.equal(after?.mitigation, null);
  assert.equal(after?.timeline.filter((e) => e.ref === "release").length, 1);
  assert.equal(nodeB.platform.response.floor(d2, "standard"), "standard");
  onA.stop();
  onB.stop();
});

test("two nodes on one store: trust credits a device's clean time on the node holding its session only; a change time alone makes is announced by one node and written by none", async (t) => {
  if (!(await needServices(t)) || !(await needPostgres(t))) return;
  const redis = await redisDb(11);
  const pg = await freshDatabase();
  const prefix = `t${suffix()}`;
  const dir = tempDir("vigil-cluster-trust-");
  const a = await startControl(redis.url, prefix, pg.url, { "cluster-node-id": "node-a" });
  const others: TestPlatform[] = [];
  const clients: MqttClient[] = [];
  t.after(() =>
    bounded("stopping the nodes", async () => {
      for (const c of clients) await c.endAsync(true).catch(() => undefined);
      for (const n of others) await n.stop();
      await a.stop();
      await redis.clean();
      await pg.drop();
      dir.remove();
    }),
  );
  // Both devices are enrolled (and their trust written) before node B starts: B loads them.
  const s = suffix();
  const [online, offline] = [`meter-${s}-on`, `meter-${s}-off`];
  const creds = await enrollDevice(a.platform, dir.path, online, "smart-meter");
  await enrollDevice(a.platform, dir.path, offline, "smart-meter");
  await a.platform.trust.flush();
  const nodeB = await startAnotherControl(a, { redisUrl: redis.url, prefix, postgresUrl: pg.url, nodeId: "node-b" });
  others.push(nodeB);
  clients.push(await connectDevice(nodeB.platform.gateway.url, creds));
  await until(() => nodeB.platform.trust.explain(online)?.connected === true, 10_000, "node B to observe the session");
  assert.equal(a.platform.trust.explain(online)?.connected, false, "node A holds no session of it");
  const storedOf = async (device: string) =>
    (await a.platform.store.trust.loadAll()).find((r) => r.device === device)?.state.cleanMs ?? -1;
  assert.equal(await storedOf(online), 0);
  const historyBefore = (await a.platform.trust.history(offline, 100)).length;
  const scoreBefore = a.platform.trust.explain(offline)?.score;
  const scoreBeforeOnB = nodeB.platform.trust.explain(offline)?.score;

  // 22 days later (the 30-day certificates are past two thirds of their life): every node observes.
  a.clock.advance(22 * 24 * 3_600_000);
  nodeB.clock.advance(22 * 24 * 3_600_000);
  nodeB.platform.trust.observe();
  await nodeB.platform.trust.flush();
  const credited = await storedOf(online);
  assert.ok(credited > 0, "node B credited the clean time of the session it holds, and wrote it");
  a.platform.trust.observe();
  await a.platform.trust.flush();
  assert.equal(await storedOf(online), credited, "node A (no session of it) wrote nothing over node B's credit");
  assert.equal(a.platform.trust.explain(online)?.connected, false);

  // The offline device's certificate ages on both nodes: its score drops on both, one history entry.
  const scoreAfter = a.platform.trust.explain(offline)?.score;
  assert.ok(scoreBefore !== undefined && scoreAfter !== undefined && scoreAfter < scoreBefore, `${scoreBefore} -> ${scoreAfter}`);
  const scoreAfterOnB = nodeB.platform.trust.explain(offline)?.score;
  assert.ok(
    scoreBeforeOnB !== undefined && scoreAfterOnB !== undefined && scoreAfterOnB < scoreBeforeOnB,
    "node B re-assessed it too",
  );
  const history = await a.platform.trust.history(offline, 100);
  assert.equal(history.length, historyBefore + 1, "announced once (by the holder of the trust.observe lease)");
  assert.equal(history[0]?.score, scoreAfter);
});
