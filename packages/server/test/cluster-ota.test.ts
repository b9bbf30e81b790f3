// Update campaigns with two full nodes (Platforms) on one PostgreSQL database and one Redis:
// only the holder of the `ota.campaigns` lease runs the campaign engine. A campaign created and
// started through the other node's API reaches every device exactly once, wherever it is
// connected; when the holder stops mid-campaign, the other node takes over and completes it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { Redis } from "ioredis";
import { OtaCommand, type OtaCampaignDto } from "@vigil/contract";
import { OtaAgent, connect, type DeviceConnection } from "../../device-sdk/src/index.js";
import { callApi, type ApiTarget } from "../src/cli/client.js";
import { RedisLeaderLease, parseClusterMessage } from "../src/cluster/index.js";
import { bounded, needServices, redisDb, startAnotherControl, startControl, suffix, until } from "./cluster-support.js";
import { SimulatedSlots, addArtifact, enrollWithFirmware, firmwareImage } from "./ota-support.js";
import { freshDatabase, needPostgres } from "./postgres-support.js";
import { memoryLogger, tempDir, type TestPlatform } from "./support.js";

/** A/B slots whose install waits until the test opens the gate (holds a wave in flight). */
class GatedSlots extends SimulatedSlots {
  /** Installs begun (including the one waiting at the gate). */
  begun = 0;
  gate: Promise<void>;

  constructor(running: string, gate: Promise<void>) {
    super(running);
    this.gate = gate;
  }

  override async write(image: Buffer, target: { name: string; version: string }): Promise<void> {
    this.begun++;
    await this.gate;
    await super.write(image, target);
  }
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => undefined as void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

interface Device {
  readonly id: string;
  readonly dir: string;
  readonly slots: GatedSlots;
  readonly agent: OtaAgent;
  connection: DeviceConnection;
  /** `<campaign> <op>` of every OTA command this device received, over all its connections. */
  readonly commands: string[];
}

/** The device listens with its OTA agent and counts what it is told. */
function attach(device: Device, connection: DeviceConnection): void {
  device.connection = connection;
  device.agent.attach(connection);
  connection.onCommand((payload) => {
    const command = OtaCommand.safeParse(JSON.parse(payload.toString("utf8")));
    if (command.success) device.commands.push(`${command.data.campaign} ${command.data.op}`);
  });
}

async function campaign(admin: ApiTarget, id: string): Promise<OtaCampaignDto> {
  const { status, data } = await callApi<OtaCampaignDto>(admin, "GET", `/api/v1/ota/campaigns/${id}`);
  assert.equal(status, 200);
  return data;
}

test("two nodes on one store: a campaign started through the node without the lease tells every device once, wherever it is connected; the other node takes over when the lease holder stops", async (t) => {
  if (!(await needServices(t)) || !(await needPostgres(t))) return;
  const redis = await redisDb(13);
  const pg = await freshDatabase();
  const prefix = `t${suffix()}`;
  const dir = tempDir("vigil-cluster-ota-");
  const a = await startControl(redis.url, prefix, pg.url, { "cluster-node-id": "node-a", "ota-tick-ms": "50" });
  const nodes: TestPlatform[] = [a];
  const devices: Device[] = [];
  let aStopped = false;
  t.after(() =>
    bounded("stopping the nodes", async () => {
      for (const d of devices) await d.connection.close({ force: true }).catch(() => undefined);
      if (!aStopped) await a.stop();
      for (const n of nodes.slice(1)) await n.stop();
      await redis.clean();
      await pg.drop();
      dir.remove();
    }),
  );
  // The OTA keys exist before node B copies the key vault: B signs the artifact uploaded to it.
  assert.equal((await callApi(a.admin, "POST", "/api/v1/ota/keys", { algorithm: "ed25519" })).status, 201);
  const b = await startAnotherControl(a, {
    redisUrl: redis.url,
    prefix,
    postgresUrl: pg.url,
    nodeId: "node-b",
    extra: { "ota-tick-ms": "50" },
  });
  nodes.push(b);
  assert.equal(a.platform.campaigns.leader, true, "the first node took the ota.campaigns lease");
  assert.equal(b.platform.campaigns.leader, false, "the second node does not run campaigns");

  // The operator works on node B (operator sessions live in the shared store).
  const operator: ApiTarget = { ...b.anonymous, token: a.admin.token };
  await addArtifact(operator, firmwareImage(32 * 1024), {
    version: "1.1.0",
    profile: "smart-meter",
    hardware: "rev-a",
    counter: "1",
  });

  // Six devices: two connected to node A, four to node B. Images come from node B (each node
  // keeps the images uploaded to it in its own data directory).
  const first = gate();
  const s = suffix();
  for (let i = 0; i < 6; i++) {
    const id = `meter-${s}-${i}`;
    const deviceDir = join(dir.path, id);
    await enrollWithFirmware(a.platform, dir.path, id, "smart-meter");
    const slots = new GatedSlots("1.0.0", first.promise);
    const agent = await OtaAgent.open({
      server: b.platform.url,
      dir: deviceDir,
      profile: "smart-meter",
      hardware: "rev-a",
      currentVersion: "1.0.0",
      slots,
    });
    const node = i < 2 ? a : b;
    const connection = await connect({ url: node.platform.gateway.url, dir: deviceDir });
    const device: Device = { id, dir: deviceDir, slots, agent, connection, commands: [] };
    attach(device, connection);
    devices.push(device);
  }

  const created = await callApi<OtaCampaignDto>(operator, "POST", "/api/v1/ota/campaigns", {
    name: "meters 1.1.0",
    artifact: "smart-meter-1.1.0",
    target: { devices: devices.map((d) => d.id) },
    canaryPercent: 50,
    wavePercent: 50,
    maxPerMinute: 60_000,
  });
  assert.equal(created.status, 201);
  const id = created.data.id;
  assert.equal(created.data.waves, 2, "a canary of 3, then a wave of 3");
  const started = await callApi<OtaCampaignDto>(operator, "POST", `/api/v1/ota/campaigns/${id}/start`);
  assert.equal(started.status, 200);
  assert.equal(started.data.state, "running");

  // Node A (the lease holder) runs it: the canary downloads and holds at install.
  await until(() => devices.filter((d) => d.slots.begun === 1).length === 3, 60_000, "the canary to reach install");
  await until(
    async () => (await a.platform.campaigns.status(id)).counts.installing === 3,
    10_000,
    "node A to record the canary installing",
  );
  const canary = devices.filter((d) => d.slots.begun === 1);
  const opsOf = (d: Device, campaignId: string) =>
    d.commands.filter((c) => c.startsWith(`${campaignId} `)).map((c) => c.slice(campaignId.length + 1));
  assert.ok(
    canary.some((d) => devices.indexOf(d) >= 2),
    "at least one canary device is on node B (told by node A)",
  );
  for (const d of devices) assert.deepEqual(opsOf(d, id), canary.includes(d) ? ["update"] : [], `${d.id} told once, in its wave`);

  // The lease holder stops mid-campaign; its devices reconnect to node B.
  await a.stop();
  aStopped = true;
  for (const d of devices.slice(0, 2)) {
    await d.connection.close({ force: true });
    attach(d, await connect({ url: b.platform.gateway.url, dir: d.dir }));
  }
  await until(() => b.platform.campaigns.leader, 10_000, "node B to take the lease");
  assert.equal((await campaign(operator, id)).counts.installing, 3, "node B resumed from the store");

  // A third node joins mid-campaign: it does not run the campaign (no second notification);
  // the operator pauses and resumes it through that node, and node B (the holder) obeys.
  const c = await startAnotherControl(b, {
    redisUrl: redis.url,
    prefix,
    postgresUrl: pg.url,
    nodeId: "node-c",
    extra: { "ota-tick-ms": "50" },
  });
  nodes.push(c);
  assert.equal(c.platform.campaigns.leader, false);
  const viaC: ApiTarget = { ...c.anonymous, token: a.admin.token };
  const paused = await callApi<OtaCampaignDto>(viaC, "POST", `/api/v1/ota/campaigns/${id}/pause`);
  assert.equal(paused.status, 200);
  assert.equal(paused.data.state, "paused");
  await until(async () => (await b.platform.campaigns.status(id)).state === "paused", 10_000, "node B to apply the pause");
  first.open();
  await until(async () => (await campaign(operator, id)).counts.installed === 3, 30_000, "the canary to install");
  await new Promise((r) => setTimeout(r, 500)); // 10 engine ticks on node B
  const waiting = devices.filter((d) => !canary.includes(d));
  for (const d of waiting) assert.deepEqual(opsOf(d, id), [], `${d.id}: nobody is told while the campaign is paused`);
  const resumed = await callApi<OtaCampaignDto>(viaC, "POST", `/api/v1/ota/campaigns/${id}/resume`);
  assert.equal(resumed.status, 200);
  assert.equal(resumed.data.state, "running");
  await until(async () => (await campaign(operator, id)).state === "completed", 60_000, "the campaign to complete on node B");
  const done = await campaign(operator, id);
  assert.equal(done.counts.installed, 6);
  assert.equal(done.counts.skipped + done.counts.failed, 0);
  await until(() => devices.every((d) => opsOf(d, id).includes("commit")), 10_000, "every device to get the commit");
  for (const d of devices) {
    assert.deepEqual(opsOf(d, id), ["update", "commit"], `${d.id} was told to update exactly once`);
    assert.equal(d.slots.running, "1.1.0");
    assert.equal(d.agent.version, "1.1.0");
  }

  // A second campaign, created, started and rolled back through node C (without the lease):
  // node B tells the canary to update, then to roll back, once each; nobody else is told.
  const second = gate();
  for (const d of devices) d.slots.gate = second.promise;
  await addArtifact(operator, firmwareImage(32 * 1024), {
    version: "1.2.0",
    profile: "smart-meter",
    hardware: "rev-a",
    counter: "2",
  });
  const next = await callApi<OtaCampaignDto>(viaC, "POST", "/api/v1/ota/campaigns", {
    name: "meters 1.2.0",
    artifact: "smart-meter-1.2.0",
    target: { devices: devices.map((d) => d.id) },
    canaryPercent: 50,
    wavePercent: 50,
    maxPerMinute: 60_000,
  });
  assert.equal(next.status, 201);
  const id2 = next.data.id;
  assert.equal((await callApi<OtaCampaignDto>(viaC, "POST", `/api/v1/ota/campaigns/${id2}/start`)).status, 200);
  await until(() => devices.filter((d) => d.slots.begun === 2).length === 3, 60_000, "the second canary to reach install");
  await until(async () => (await campaign(viaC, id2)).counts.installing === 3, 10_000, "the canary installing, in the store");
  const rolling = await callApi<OtaCampaignDto>(viaC, "POST", `/api/v1/ota/campaigns/${id2}/rollback`);
  assert.equal(rolling.status, 200);
  assert.equal(rolling.data.state, "rolling_back");
  second.open();
  await until(async () => (await campaign(viaC, id2)).state === "rolled_back", 30_000, "the rollback to finish");
  assert.equal((await campaign(viaC, id2)).counts.rolled_back, 3);
  for (const d of devices) {
    const inCanary = d.slots.begun === 2;
    assert.deepEqual(opsOf(d, id2), inCanary ? ["update", "rollback"] : [], `${d.id}: each command once, from one node`);
    assert.equal(d.agent.version, "1.1.0", `${d.id} runs its last good version`);
  }
});

test("bad input: a campaign message between nodes is validated like the security decisions", () => {
  const envelope = { v: 1, node: "node-b", seq: 7, at: 1 };
  assert.deepEqual(parseClusterMessage(JSON.stringify({ ...envelope, kind: "campaign", campaign: "cmp_123", action: "pause" })), {
    ...envelope,
    kind: "campaign",
    campaign: "cmp_123",
    action: "pause",
  });
  const rejected = [
    { kind: "campaign", campaign: "cmp_123", action: "delete" }, // not an action
    { kind: "campaign", campaign: "../cmp", action: "pause" }, // not a campaign id
    { kind: "campaign", campaign: "cmp_123", action: "rollback_device" }, // names no device
    { kind: "campaign", campaign: "cmp_123", action: "pause", device: "d-1" }, // a device it has no use for
    { kind: "campaign", campaign: "cmp_123", action: "pause", tier: "trusted" }, // a field of another kind
    { kind: "campaign", action: "start" },
  ];
  for (const body of rejected)
    assert.equal(parseClusterMessage(JSON.stringify({ ...envelope, ...body })), undefined, JSON.stringify(body));
  // The security decisions are unchanged.
  assert.equal(parseClusterMessage(JSON.stringify({ ...envelope, kind: "tier", device: "d-1", reason: "no tier" })), undefined);
  assert.equal(
    parseClusterMessage(JSON.stringify({ ...envelope, kind: "tier", device: "d-1", tier: "quarantine", reason: "r" }))?.kind,
    "tier",
  );
});

test("the ota.campaigns lease: one holder; released on stop and taken by the next; a holder whose lease was taken from it knows", async (t) => {
  if (!(await needServices(t))) return;
  const prefix = `t${suffix()}`;
  const { log } = memoryLogger();
  const events: string[] = [];
  const lease = (node: string) =>
    new RedisLeaderLease({ url: "redis://127.0.0.1:6379/13", prefix, name: "ota.campaigns", nodeId: node, ttlMs: 1500, log });
  const one = lease("one");
  const two = lease("two");
  const redis = await redisDb(13);
  t.after(async () => {
    await one.stop();
    await two.stop();
    await redis.clean();
  });
  await one.start(async (held) => void events.push(`one ${held}`));
  await two.start(async (held) => void events.push(`two ${held}`));
  assert.deepEqual(events, ["one true"], "the first takes it; the second waits");
  assert.equal(two.held, false);
  await one.stop();
  await until(() => two.held, 5000, "the second node to take the released lease");
  assert.deepEqual(events, ["one true", "two true"]);

  // Taken from it (as after a stall longer than the ttl): it stops acting as the holder.
  const raw = new Redis("redis://127.0.0.1:6379/13");
  t.after(() => raw.disconnect());
  await raw.set(`${prefix}:lease:ota.campaigns`, "someone-else", "PX", 60_000);
  await until(() => !two.held, 5000, "the holder to notice");
  assert.deepEqual(events, ["one true", "two true", "two false"]);
});
