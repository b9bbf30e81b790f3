import { DeviceSdkError, connect, enroll, type DeviceConnection } from "@vigil/device-sdk";
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Fleet, platformTarget } from "../src/simulator/index.js";
import { waitFor } from "./gateway-support.js";
import { runCli, startPlatform, tempDir, type TestPlatform } from "./support.js";

// Issue 6: `vigil simulate` / `vigil drill` needed a forced exit because a device's MQTT
// session could outlive `fleet.stop()`. A QoS 1 publish left unacknowledged by a lost session
// stayed pending for ever in MQTT.js (the SDK's reconnect dropped its stores, not its
// callbacks), so close() waited for it without end, and the forced close after it was a no-op.

let t: TestPlatform;
const dir = tempDir("vigil-simexit-");

before(async () => {
  t = await startPlatform();
});

after(async () => {
  await t.stop();
  dir.remove();
});

/** This process's own (client-side) sockets to the gateway: what would keep a CLI alive. */
function socketsToGateway(): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h) => (h as Partial<Socket>).remotePort === t.platform.gateway.port && !(h as Socket).destroyed).length;
}

/**
 * None left, and none comes back over the next 2 s: an orphaned session (one its device no
 * longer knows of) reconnects within its first backoff (at most 250 ms for a simulated device).
 */
async function noSocketLeft(what: string): Promise<void> {
  await waitFor(() => socketsToGateway() === 0, 5_000, `${what}: no socket to the gateway left open`);
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(socketsToGateway(), 0, `${what}: a session to the gateway was opened again`);
  }
}

/** Settles within `ms` or says it did not (a hang, not a slowness: the bound is generous). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

async function enrolled(deviceId: string, profile = "smart-meter"): Promise<string> {
  const { tokens } = await t.platform.enrollment.createTokens({ profile, ttlSeconds: 600, count: 1, by: "test" });
  const home = join(dir.path, deviceId);
  await enroll({
    server: t.platform.url,
    caPem: t.platform.ca,
    deviceId,
    dir: home,
    attestation: { kind: "claim-token", token: tokens[0] ?? "" },
  });
  return home;
}

test("SDK: a QoS 1 publish the gateway refuses (session cut) fails with SDK_CONNECTION_LOST; close() then leaves no socket", async () => {
  const home = await enrolled("meter-exit-1");
  const device: DeviceConnection = await connect({
    url: t.platform.gateway.url,
    dir: home,
    reconnect: { minMs: 50, maxMs: 100 },
  });
  device.on("error", () => undefined);
  let sessions = 1;
  device.on("connect", () => sessions++);
  try {
    // Outside the profile: the gateway closes the connection without a PUBACK ([MQTT-3.3.5-2]).
    const refused = device.publish("not-in-the-profile", "x", { qos: 1 });
    await assert.rejects(
      within(refused, 15_000, "the refused publish"),
      (e: unknown) => e instanceof DeviceSdkError && e.code === "SDK_CONNECTION_LOST",
    );
    // The device reconnected, and with nothing left in flight it is not cut again.
    await waitFor(() => sessions >= 2 && device.connected, 10_000, "the reconnect");
    await device.publishTelemetry({ kwh: 1.5 }, { qos: 1 });
    assert.ok(device.connected);
  } finally {
    await within(device.close(), 15_000, "close()");
  }
  assert.equal(device.connected, false);
  await noSocketLeft("after close()");
  await waitFor(() => !t.platform.gateway.isConnected("meter-exit-1"), 5_000, "the gateway to see the session end");
});

test("SDK: a QoS 1 publish made while the session is down goes out once it is back", async () => {
  const home = await enrolled("meter-exit-2");
  const received: string[] = [];
  const off = await t.platform.gateway.subscribe("devices/meter-exit-2/telemetry", (_topic, payload) =>
    received.push(payload.toString()),
  );
  const device = await connect({ url: t.platform.gateway.url, dir: home, reconnect: { minMs: 400, maxMs: 400 } });
  device.on("error", () => undefined);
  try {
    const down = new Promise<void>((resolve) => device.once("close", () => resolve()));
    assert.ok(t.platform.gateway.disconnect("meter-exit-2"));
    await within(down, 10_000, "the session drop");
    assert.equal(device.connected, false);
    await within(device.publishTelemetry({ queued: true }, { qos: 1 }), 15_000, "the publish made while offline");
    assert.ok(device.connected, "it resolved on the new session");
    await waitFor(() => received.length === 1, 5_000, "the queued telemetry at the gateway");
    assert.deepEqual(JSON.parse(received[0] ?? "null"), { queued: true });
  } finally {
    await within(device.close(), 15_000, "close()");
    await off();
  }
  await noSocketLeft("after close()");
});

test("fleet.stop() leaves no session open, after refused QoS 1 publishes, takeovers and blips", async () => {
  const fleet = new Fleet({
    target: platformTarget(t.platform),
    workDir: join(dir.path, "fleet"),
    seed: 6,
    prefix: "exit",
    oddities: { reboot: 0, blip: 0 },
  });
  try {
    const devices = await fleet.start(4, "mixed");
    assert.equal(devices.length, 4);
    const [refusing, blipping, taken, suspended] = devices as [
      (typeof devices)[0],
      (typeof devices)[0],
      (typeof devices)[0],
      (typeof devices)[0],
    ];
    // A QoS 1 publish the gateway refuses: it cuts the session and the SDK reconnects.
    const cutsBefore = refusing.stats.reconnects;
    assert.ok(refusing.send({ subtopic: "not-in-the-profile", qos: 1, payload: { x: 1 } }));
    await waitFor(() => refusing.stats.reconnects > cutsBefore && refusing.connected, 10_000, "the refused device back");
    await waitFor(() => refusing.stats.failed >= 1, 5_000, "the refused publish counted as failed");
    // A blip and a session taken over by a second connection with the same identity.
    const blip = blipping.blip(200);
    const clone = await connect({ url: t.platform.gateway.url, dir: taken.dir, reconnect: { minMs: 5_000, maxMs: 5_000 } });
    clone.on("error", () => undefined);
    await waitFor(() => taken.stats.reconnects > 0, 10_000, "the taken-over device to reconnect");
    await clone.close();
    await blip;
    // Two resumes racing (two scenarios on one device) must not open two sessions.
    await suspended.suspend();
    await Promise.all([suspended.resume(), suspended.resume()]);
    assert.ok(suspended.connected);
  } finally {
    await within(fleet.stop(), 30_000, "fleet.stop()");
  }
  assert.equal(fleet.stats().connected, 0);
  await noSocketLeft("after fleet.stop()");
  await waitFor(() => t.platform.gateway.sessionCount === 0, 5_000, "the gateway to have no session left");
});

test("vigil simulate --embedded with session-cutting attacks exits by itself, with its report", async () => {
  const out = tempDir("vigil-simexit-cli-");
  try {
    const run = await runCli(
      [
        "--json",
        "simulate",
        "--embedded",
        "--devices",
        "6",
        "--duration",
        "10s",
        "--scenario",
        "cloned-identity",
        "flood",
        "lateral-movement",
        "--seed",
        "6",
        "--ground-truth",
        join(out.path, "truth.jsonl"),
      ],
      // Killed (code null) if it has not exited by then: a run of 10 s needs far less.
      { timeoutMs: 120_000 },
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { stats: { devices: number }; attacks: unknown[] };
    assert.equal(result.stats.devices, 6);
    assert.equal(result.attacks.length, 3);
  } finally {
    out.remove();
  }
});
