import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { DeviceCredentials } from "../../device-sdk/src/index.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";
import { closedOf, connectDevice, enrollDevice, recordSignals, waitFor } from "./gateway-support.js";

// Each rule on a real scenario: devices enrolled through EST with the SDK, connected over
// mutual TLS to the real gateway, findings raised by the platform's detection service.

let t: TestPlatform;
const dir = tempDir("vigil-detection-");
const creds: Record<string, DeviceCredentials> = {};

before(async () => {
  t = await startPlatform({
    flags: {
      "mqtt-throttle-drops-before-disconnect": "30",
      "detection-window-ms": "1000",
      "detection-warmup-windows": "3",
      "detection-rules-flood-dropped": "20",
    },
  });
  for (const [id, profile] of [
    ["sensor-1", "environmental-sensor"],
    ["sensor-2", "environmental-sensor"],
    ["pump-1", "infusion-pump"],
    ["pump-2", "infusion-pump"],
    ["cam-1", "ip-camera"],
    ["plc-1", "plc"],
  ] as const) {
    creds[id] = await enrollDevice(t.platform, dir.path, id, profile);
  }
});
after(async () => {
  await t.stop();
  dir.remove();
});

const findingsOf = (device: string) => t.platform.detection.findings().filter((f) => f.device === device);
const tick = () => new Promise((resolve) => setImmediate(resolve));

test("a benign device publishing normally raises no finding", async () => {
  const client = await connectDevice(t.platform.gateway.url, creds["sensor-1"]!);
  try {
    for (let i = 0; i < 6; i++) {
      await client.publishAsync("devices/sensor-1/telemetry", JSON.stringify({ t: 21.5 + i / 10, rh: 40 }));
      t.clock.advance(5_000);
      await tick();
    }
    await waitFor(() => (t.platform.detection.detector.stateOf("sensor-1")?.lastMsgAt ?? -1) > 0, 5_000, "messages observed");
    assert.deepEqual(findingsOf("sensor-1"), []);
  } finally {
    await client.endAsync();
  }
});

test("a device subscribing to another device's command topic: lateral movement, quarantined at once", async () => {
  const signals = recordSignals(t.platform, ["finding.raised", "gateway.policy_changed"]);
  const client = await connectDevice(t.platform.gateway.url, creds["pump-1"]!);
  try {
    client.subscribe("vigil/pump-2/cmd", { qos: 1 }, () => undefined);
    await waitFor(() => findingsOf("pump-1").some((f) => f.rule === "lateral_movement"), 5_000, "lateral finding");
    const f = findingsOf("pump-1").find((x) => x.rule === "lateral_movement")!;
    assert.equal(f.action, "quarantine");
    assert.equal(f.evidence.topic, "vigil/pump-2/cmd");
    assert.equal(typeof f.detectToBlockMs, "number");
    // Detection quarantines at once; trust, which owns the tier, then sets its own (never back above standard).
    assert.ok(signals.of("gateway.policy_changed").some((s) => s.device === "pump-1" && s.to === "quarantine"));
    assert.notEqual(t.platform.gateway.policyOf("pump-1")?.tier, "standard");
    const raised = signals.of("finding.raised").find((s) => s.device === "pump-1")!;
    assert.equal(raised.category, "scanning");
    assert.equal(JSON.parse(raised.evidence).action, "quarantine");
  } finally {
    signals.stop();
    client.end(true);
  }
});

test("probing topics it may not subscribe to: topic reconnaissance", async () => {
  const client = await connectDevice(t.platform.gateway.url, creds["plc-1"]!);
  try {
    for (const filter of ["$SYS/#", "factory/secrets", "admin/config"]) client.subscribe(filter, { qos: 0 }, () => undefined);
    await waitFor(() => findingsOf("plc-1").some((f) => f.rule === "topic_reconnaissance"), 5_000, "recon finding");
  } finally {
    client.end(true);
  }
});

test("a flood past the profile's rate: flood finding, the device disconnected", async () => {
  const client = await connectDevice(t.platform.gateway.url, creds["sensor-2"]!);
  const closed = closedOf(client);
  for (let i = 0; i < 80 && client.connected; i++) client.publish("devices/sensor-2/telemetry", "{}", { qos: 0 });
  await waitFor(() => findingsOf("sensor-2").some((f) => f.rule === "flood"), 5_000, "flood finding");
  await closed;
  assert.ok(!t.platform.gateway.isConnected("sensor-2"));
});

test("the same identity connected twice: identity finding with both remotes", async () => {
  const first = await connectDevice(t.platform.gateway.url, creds["pump-2"]!);
  const second = await connectDevice(t.platform.gateway.url, creds["pump-2"]!);
  try {
    await waitFor(() => findingsOf("pump-2").some((f) => f.rule === "identity_cloned"), 5_000, "clone finding");
    const f = findingsOf("pump-2").find((x) => x.rule === "identity_cloned")!;
    assert.equal((f.evidence.remotes as string[]).length, 2);
    assert.equal(f.evidence.sameHost, true);
  } finally {
    first.end(true);
    second.end(true);
  }
});

test("an upload far above the camera's learnt baseline is refused inline and the camera quarantined", async () => {
  const delivered: number[] = [];
  const unsubscribe = await t.platform.gateway.subscribe("devices/cam-1/#", (_topic, payload) => delivered.push(payload.length));
  const client = await connectDevice(t.platform.gateway.url, creds["cam-1"]!);
  try {
    // Learn: small health messages, one feature window (1 s of the platform's clock) each.
    for (let i = 0; i < 8; i++) {
      await client.publishAsync("devices/cam-1/telemetry", JSON.stringify({ temp: 40 + i, storage: 0.5, pad: "x".repeat(200) }), {
        qos: 1,
      });
      t.clock.advance(1_100);
      await tick();
    }
    await waitFor(() => delivered.length === 8, 5_000, "health messages delivered");
    await waitFor(() => Number.isFinite(t.platform.detection.detector.stateOf("cam-1")!.exfilLimit), 5_000, "baseline learnt");
    assert.deepEqual(findingsOf("cam-1"), []);
    client.publish("devices/cam-1/events", Buffer.alloc(200_000, 1), { qos: 0 });
    await waitFor(() => findingsOf("cam-1").some((f) => f.rule === "exfiltration"), 5_000, "exfiltration finding");
    const f = findingsOf("cam-1").find((x) => x.rule === "exfiltration")!;
    assert.equal(f.action, "quarantine");
    assert.equal(typeof f.detectToBlockMs, "number");
    assert.equal(f.evidence.refusedMessageBytes, 200_000);
    await waitFor(() => t.platform.gateway.policyOf("cam-1")?.tier === "quarantine", 5_000, "quarantine");
    assert.equal(delivered.filter((n) => n === 200_000).length, 0, "the offending message never reached a subscriber");
  } finally {
    await unsubscribe();
    client.end(true);
  }
});
