// The campaign engine through its DeviceNotifier port (no MQTT): persistence across a restart,
// waves, rate limit, maintenance window, offline devices, trust drops, manual rollback.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import type { OtaCommand, OtaReport } from "@vigil/contract";
import { Platform, loadConfig } from "../src/app/index.js";
import { isVigilError, type DeviceId, type Millis } from "../src/core/index.js";
import { newDeviceRecord } from "../src/identity/index.js";
import type { DeviceNotifier } from "../src/ota/index.js";
import { recordSignals } from "./gateway-support.js";
import { firmwareImage } from "./ota-support.js";
import { memoryLogger, tempDir } from "./support.js";

const dir = tempDir("vigil-ota-campaign-");
after(() => dir.remove());

class FakeNotifier implements DeviceNotifier {
  readonly sent: { device: string; command: OtaCommand }[] = [];
  offline = new Set<string>();
  #handler: ((device: DeviceId, payload: Buffer) => void) | undefined;

  async send(device: DeviceId, command: OtaCommand): Promise<{ online: boolean }> {
    this.sent.push({ device, command });
    return { online: !this.offline.has(device) };
  }
  async onAck(handler: (device: DeviceId, payload: Buffer) => void) {
    this.#handler = handler;
    return async () => {
      this.#handler = undefined;
    };
  }
  ack(device: string, report: Omit<OtaReport, "type">): void {
    this.#handler?.(device as DeviceId, Buffer.from(JSON.stringify({ type: "ota", ...report })));
  }
  told(op: OtaCommand["op"]): string[] {
    return this.sent.filter((s) => s.command.op === op).map((s) => s.device);
  }
}

async function startWith(notifier: DeviceNotifier): Promise<Platform> {
  const config = await loadConfig({
    env: {},
    cwd: dir.path,
    flags: {
      "data-dir": join(dir.path, "data"),
      "http-port": "0",
      "http-host": "127.0.0.1",
      "mqtt-enabled": "false",
      "ota-tick-ms": "60000",
    },
  });
  const platform = new Platform({ config, log: memoryLogger().log, processMetrics: false, otaNotifier: notifier });
  await platform.start();
  return platform;
}

async function addDevices(platform: Platform, prefix: string, n: number, profile: string): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, "0")}`);
  await platform.store.devices.insertMany(
    ids.map((id) =>
      newDeviceRecord({
        id: id as DeviceId,
        createdAt: Date.now() as Millis,
        state: "active",
        profile,
        firmwareVersion: "1.0.0",
      }),
    ),
  );
  return ids;
}

/** Runs engine ticks until `done` (bounded). */
async function settle(platform: Platform, done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await done()) return;
    await platform.campaigns.tick();
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`not settled: ${what}`);
}

test("a campaign survives a restart, goes wave by wave, skips offline devices and completes with a commit", async () => {
  const first = new FakeNotifier();
  let platform = await startWith(first);
  await platform.updates.keysInit("ecdsa-p256", "test");
  await platform.updates.addArtifact(firmwareImage(2048), { version: "1.1.0", profile: "smart-meter" }, "test");
  const ids = await addDevices(platform, "meter", 20, "smart-meter");
  await addDevices(platform, "cam", 3, "ip-camera"); // another profile: never targeted
  const created = await platform.campaigns.create(
    { name: "meters", artifact: "smart-meter-1.1.0", target: {}, canaryPercent: 10, wavePercent: 50, maxPerMinute: 60_000 },
    "test",
  );
  assert.equal(created.devices, 20);
  assert.equal(created.waves, 3); // 2 + 10 + 8
  await platform.campaigns.startCampaign(created.id, "test");
  await settle(platform, () => first.told("update").length === 2, "canary told");
  await platform.stop("restart");

  const second = new FakeNotifier();
  const offline = ids.find((id) => !first.told("update").includes(id))!; // not in the canary (told before the restart)
  second.offline.add(offline);
  platform = await startWith(second);
  try {
    const signals = recordSignals(platform, ["campaign.wave_started", "campaign.completed", "ota.installed"]);
    const resumed = await platform.campaigns.status(created.id);
    assert.equal(resumed.state, "running");
    assert.equal(resumed.counts.notified, 2, "the restarted engine remembers whom it told");
    for (const device of first.told("update")) {
      for (const state of ["downloading", "verified", "installing"] as const)
        second.ack(device, { campaign: created.id, state, version: "1.0.0" });
      second.ack(device, { campaign: created.id, state: "installed", version: "1.1.0" });
    }
    // Every device the engine tells answers with a verified installation.
    const answered = new Set<string>(first.told("update"));
    await settle(
      platform,
      async () => {
        for (const device of second.told("update")) {
          if (answered.has(device) || second.offline.has(device)) continue;
          answered.add(device);
          second.ack(device, { campaign: created.id, state: "installed", version: "1.1.0" });
        }
        return (await platform.campaigns.status(created.id)).state === "completed";
      },
      "completion",
    );
    const done = await platform.campaigns.status(created.id);
    assert.equal(done.counts.installed, 19);
    assert.equal(done.counts.skipped, 1);
    assert.deepEqual(
      signals.of("campaign.wave_started").map((w) => w.wave),
      [1, 2],
    );
    assert.equal(signals.of("ota.installed").length, 19);
    assert.equal(second.told("commit").length, 19);
    assert.ok(!second.sent.some((s) => s.device.startsWith("cam-")));
    assert.equal((await platform.store.devices.get(ids.find((id) => id !== offline)! as DeviceId))?.firmwareVersion, "1.1.0");
    assert.equal((await platform.store.devices.get(offline as DeviceId))?.firmwareVersion, "1.0.0");
    await assert.rejects(platform.campaigns.resume(created.id, "test"), (e) => isVigilError(e, "OTA_CAMPAIGN_STATE"));
    signals.stop();
  } finally {
    await platform.stop("test done");
  }
});

test("a trust drop among updated devices halts the campaign; manual rollback waits for the operator, then rolls back", async () => {
  const notifier = new FakeNotifier();
  const platform = await startWith(notifier);
  try {
    await platform.updates.addArtifact(firmwareImage(2048), { version: "3.0.0", profile: "plc" }, "test");
    await addDevices(platform, "plc", 10, "plc");
    const signals = recordSignals(platform, ["campaign.halted", "campaign.rollback_started", "campaign.rolled_back"]);
    const c = await platform.campaigns.create(
      {
        name: "plc",
        artifact: "plc-3.0.0",
        target: { profile: "plc" },
        canaryPercent: 20,
        wavePercent: 40,
        trustDropThresholdPercent: 10,
        rollback: "manual",
        maxPerMinute: 60_000,
      },
      "test",
    );
    await platform.campaigns.startCampaign(c.id, "test");
    await settle(platform, () => notifier.told("update").length === 2, "canary told");
    for (const device of notifier.told("update")) notifier.ack(device, { campaign: c.id, state: "installed", version: "3.0.0" });
    await settle(platform, async () => (await platform.campaigns.status(c.id)).counts.installed === 2, "canary installed");
    // Paused: no new device is told.
    await platform.campaigns.pause(c.id, "test");
    await settle(platform, async () => true, "tick");
    assert.equal(notifier.told("update").length, 2);
    await platform.campaigns.resume(c.id, "test");
    // Trust (another module) sees the updated canary drop to quarantine.
    platform.bus.emit("trust.changed", {
      device: notifier.told("update")[0]!,
      from: "standard",
      to: "quarantine",
      score: 20,
      tier: "quarantine",
      reasons: ["test"],
    });
    await settle(platform, async () => (await platform.campaigns.status(c.id)).state === "halted", "halt");
    assert.equal(signals.of("campaign.halted")[0]?.reason, "trust_drop");
    assert.equal(signals.of("campaign.rollback_started").length, 0, "manual rollback: nothing rolled back yet");
    assert.equal(notifier.told("rollback").length, 0);

    await platform.campaigns.rollback(c.id, "operator");
    assert.deepEqual(notifier.told("rollback").sort(), notifier.told("update").sort());
    for (const device of notifier.told("rollback"))
      notifier.ack(device, { campaign: c.id, state: "rolled_back", version: "1.0.0", reason: "campaign_rollback" });
    await settle(platform, async () => (await platform.campaigns.status(c.id)).state === "rolled_back", "rolled back");
    assert.equal(signals.of("campaign.rolled_back")[0]?.rolledBack, 2);
    const status = await platform.campaigns.status(c.id);
    assert.equal(status.counts.pending, 8, "the other devices were never told");
    signals.stop();
  } finally {
    await platform.stop("test done");
  }
});

test("outside its maintenance window a campaign tells no device; cancel; bad campaigns are refused with a code", async () => {
  const notifier = new FakeNotifier();
  const platform = await startWith(notifier);
  try {
    await platform.updates.addArtifact(firmwareImage(1024), { version: "1.5.0", profile: "patient-monitor" }, "test");
    await addDevices(platform, "mon", 4, "patient-monitor");
    const hour = new Date(Date.now() + 6 * 3_600_000).getUTCHours();
    const hh = String(hour).padStart(2, "0");
    const c = await platform.campaigns.create(
      { name: "night", artifact: "patient-monitor-1.5.0", target: {}, window: { start: `${hh}:00`, end: `${hh}:30` } },
      "test",
    );
    await platform.campaigns.startCampaign(c.id, "test");
    for (let i = 0; i < 5; i++) await platform.campaigns.tick();
    assert.equal(notifier.sent.length, 0);
    const cancelled = await platform.campaigns.cancel(c.id, "test");
    assert.equal(cancelled.state, "cancelled");
    assert.equal(cancelled.counts.pending, 4);
    await assert.rejects(platform.campaigns.cancel(c.id, "test"), (e) => isVigilError(e, "OTA_CAMPAIGN_STATE"));

    const invalid = (e: unknown) => isVigilError(e, "OTA_CAMPAIGN_INVALID");
    await assert.rejects(
      platform.campaigns.create({ name: "x", artifact: "patient-monitor-1.5.0", target: { profile: "plc" } }, "t"),
      invalid,
    );
    await assert.rejects(
      platform.campaigns.create({ name: "x", artifact: "patient-monitor-1.5.0", target: { devices: ["nope"] } }, "t"),
      invalid,
    );
    await assert.rejects(
      platform.campaigns.create({ name: "x", artifact: "patient-monitor-1.5.0", target: { tags: ["ward-3"] } }, "t"),
      invalid,
    );
    await assert.rejects(platform.campaigns.create({ name: "x", artifact: "nope-1.0.0", target: {} }, "t"), (e) =>
      isVigilError(e, "OTA_ARTIFACT_NOT_FOUND"),
    );
    await assert.rejects(
      platform.updates.addArtifact(firmwareImage(10), { version: "1.5.0", profile: "patient-monitor" }, "t"),
      (e) => isVigilError(e, "OTA_ARTIFACT_EXISTS"),
    );
    await assert.rejects(
      platform.updates.addArtifact(firmwareImage(10), { version: "2.0", profile: "patient-monitor" }, "t"),
      (e) => isVigilError(e, "OTA_ARTIFACT_INVALID"),
    );
    await assert.rejects(
      platform.updates.addArtifact(Buffer.alloc(0), { version: "2.0.0", profile: "patient-monitor" }, "t"),
      (e) => isVigilError(e, "OTA_ARTIFACT_INVALID"),
    );
    await assert.rejects(platform.updates.keysInit("ed25519", "t"), (e) => isVigilError(e, "OTA_KEYS_EXIST"));
  } finally {
    await platform.stop("test done");
  }
});
