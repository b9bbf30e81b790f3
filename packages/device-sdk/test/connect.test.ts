import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Platform, createRootLogger, loadConfig } from "@vigil/server";
import { DeviceSdkError, connect, enroll } from "../src/index.js";

let platform: Platform;
const dir = mkdtempSync(join(tmpdir(), "vigil-sdk-connect-"));

before(async () => {
  const config = await loadConfig({
    env: {},
    cwd: dir,
    flags: { "data-dir": join(dir, "data"), "http-port": "0", "mqtt-port": "0" },
  });
  platform = new Platform({ config, log: createRootLogger({ level: "silent" }), processMetrics: false });
  await platform.start();
});
after(async () => {
  await platform.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function enrolled(deviceId: string, profile: string): Promise<string> {
  const { tokens } = await platform.enrollment.createTokens({ profile, ttlSeconds: 600, count: 1, by: "test" });
  const home = join(dir, deviceId);
  await enroll({
    server: platform.url,
    caPem: platform.ca,
    deviceId,
    dir: home,
    attestation: { kind: "claim-token", token: tokens[0]! },
  });
  return home;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("connect(): telemetry, config subscription, commands and acks over mutual TLS", async () => {
  const home = await enrolled("pump-sdk-1", "infusion-pump");
  const gateway = platform.gateway;
  const telemetry: string[] = [];
  const acks: string[] = [];
  const offTelemetry = await gateway.subscribe("devices/pump-sdk-1/telemetry", (_t, payload) =>
    telemetry.push(payload.toString()),
  );
  const offAcks = await gateway.subscribe("vigil/pump-sdk-1/ack", (_t, payload) => acks.push(payload.toString()));
  const device = await connect({ url: gateway.url, dir: home });
  try {
    assert.equal(device.deviceId, "pump-sdk-1");
    assert.ok(device.connected);
    await device.publishTelemetry({ rate: 4.2 }, { qos: 1 });
    await waitFor(() => telemetry.length === 1, "telemetry");
    assert.deepEqual(JSON.parse(telemetry[0]!), { rate: 4.2 });

    const configs: string[] = [];
    await device.subscribe("config", (payload) => configs.push(payload.toString()), { qos: 1 });
    await gateway.publish("devices/pump-sdk-1/config", "library v7", { qos: 1 });
    await waitFor(() => configs.length === 1, "config");

    const commands: string[] = [];
    device.onCommand((payload) => {
      commands.push(payload.toString());
      void device.ack({ done: payload.toString() });
    });
    await gateway.sendCommand("pump-sdk-1", "reattest");
    await waitFor(() => acks.length === 1, "ack");
    assert.deepEqual(commands, ["reattest"]);
    assert.deepEqual(JSON.parse(acks[0]!), { done: "reattest" });

    // A subscription outside the profile is refused with a clear error.
    await assert.rejects(
      device.subscribe("firmware", () => undefined),
      (e: unknown) => e instanceof DeviceSdkError && e.code === "SDK_SUBSCRIBE_REFUSED",
    );
  } finally {
    await device.close();
    await offTelemetry();
    await offAcks();
  }
});

test("connect(): reconnects with backoff after the gateway drops it, and resubscribes", async () => {
  const home = await enrolled("pump-sdk-2", "infusion-pump");
  const gateway = platform.gateway;
  const device = await connect({ url: gateway.url, dir: home, reconnect: { minMs: 20, maxMs: 200 } });
  try {
    let reconnects = 0;
    device.on("connect", () => reconnects++);
    assert.equal(gateway.disconnect("pump-sdk-2"), true);
    await waitFor(() => reconnects === 1 && gateway.isConnected("pump-sdk-2"), "reconnect");
    const commands: string[] = [];
    device.onCommand((payload) => commands.push(payload.toString()));
    for (let i = 0; i < 100 && commands.length === 0; i++) {
      await gateway.sendCommand("pump-sdk-2", "after-reconnect");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(commands[0], "after-reconnect", "the control channel was resubscribed");
  } finally {
    await device.close();
  }
});

test("connect(): a renewed certificate is picked up at once (reconnect with it)", async () => {
  const home = await enrolled("meter-sdk-1", "smart-meter");
  const gateway = platform.gateway;
  const device = await connect({ url: gateway.url, dir: home, renewWith: platform.url });
  try {
    const before = device.serial;
    assert.equal(gateway.sessions().find((s) => s.device === "meter-sdk-1")?.serial, before);
    const renewed = await device.renewNow();
    assert.ok(renewed !== undefined && renewed.serial !== before);
    await waitFor(
      () => gateway.sessions().find((s) => s.device === "meter-sdk-1")?.serial === renewed.serial,
      "session on the new certificate",
    );
    await device.publishTelemetry("after renewal", { qos: 1 });
  } finally {
    await device.close();
  }
});

test("connect(): a revoked device is refused and does not retry", async () => {
  const home = await enrolled("meter-sdk-2", "smart-meter");
  await platform.identity.revokeDevice("meter-sdk-2", "keyCompromise", "test");
  await assert.rejects(
    connect({ url: platform.gateway.url, dir: home }),
    (e: unknown) => e instanceof DeviceSdkError && e.code === "SDK_CONNECT_REFUSED",
  );
});
