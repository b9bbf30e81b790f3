import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { DeviceCredentials } from "../../device-sdk/src/index.js";
import { moduleLogger } from "../src/core/index.js";
import { Gateway } from "../src/gateway/index.js";
import { parseProfile } from "../src/policy/index.js";
import { repoRoot, startPlatform, tempDir, type TestPlatform } from "./support.js";
import { connectDevice, enrollDevice, recordSignals, waitFor } from "./gateway-support.js";

// One device floods; another device's messages must all still arrive, memory must stay
// bounded and the broker must close cleanly (DEPENDENCIES.md: aedes 1.2 under one fast mTLS
// publisher queued 214k messages / 330 MB and crashed on close in 6 of 10 runs).

const FLOOD_PROFILE = parseProfile(
  [
    "id: flood-test",
    "description: A generous profile, so that the flood reaches the broker instead of being throttled at once.",
    "vertical: generic",
    "safetyCritical: false",
    'publish: ["devices/{device}/telemetry"]',
    "subscribe: []",
    "maxMessagesPerSecond: 10000",
    "burst: 100000",
    "maxPayloadBytes: 1024",
    "maxQos: 1",
    "retainAllowed: false",
    "sensitivePayload: false",
  ].join("\n"),
);

const hasMosquittoPub = spawnSync("sh", ["-c", "command -v mosquitto_pub"]).status === 0;
const mosquittoSkip = hasMosquittoPub ? false : "mosquitto_pub is not installed (apt-get install mosquitto-clients)";
if (!hasMosquittoPub && process.env.CI === "true") throw new Error("CI must have mosquitto_pub (see .ci/run)");

let t: TestPlatform;
let gateway: Gateway;
const dir = tempDir("vigil-gateway-flood-");
const creds: Record<string, DeviceCredentials> = {};

before(async () => {
  t = await startPlatform({ flags: { "mqtt-enabled": "false" } });
  for (const id of ["flooder-1", "flooder-2", "steady-1", "steady-2"])
    creds[id] = await enrollDevice(t.platform, dir.path, id, "environmental-sensor");
});
after(async () => {
  await t.stop();
  dir.remove();
});

async function startGateway(dropsBeforeDisconnect: number, profile = FLOOD_PROFILE): Promise<Gateway> {
  const g = new Gateway({
    settings: {
      host: "127.0.0.1",
      port: 0,
      handshakeTimeoutMs: 5_000,
      connectTimeoutMs: 5_000,
      maxConnectionsPerSource: 1000,
      throttleDropsBeforeDisconnect: dropsBeforeDisconnect,
    },
    ca: t.platform.authority,
    devices: t.platform.store.devices,
    certificates: t.platform.store.certificates,
    bus: t.platform.bus,
    clock: t.platform.clock,
    log: moduleLogger(t.platform.log, "gateway-flood"),
    profiles: () => profile,
  });
  await g.start();
  return g;
}

/** An MQTT.js publisher in its own process, publishing QoS 0 as fast as it can (bounded count and time). */
function mqttJsFlood(port: number, device: DeviceCredentials, count: number, seconds: number): ChildProcess {
  const script = `
    import mqtt from "mqtt";
    const c = mqtt.connect("mqtts://127.0.0.1:${port}", { key: process.env.KEY, cert: process.env.CERT, ca: process.env.CA,
      clientId: ${JSON.stringify(device.deviceId)}, protocolVersion: 4, reconnectPeriod: 0 });
    const payload = Buffer.alloc(64, 7);
    const deadline = Date.now() + ${seconds * 1000};
    let sent = 0;
    c.on("error", () => process.exit(0));
    c.on("close", () => process.exit(0));
    c.on("connect", function burst() {
      for (let i = 0; i < 2000 && sent < ${count}; i++, sent++) c.publish("devices/${device.deviceId}/telemetry", payload, { qos: 0 });
      if (sent < ${count} && Date.now() < deadline) setImmediate(burst); else c.end(false, () => process.exit(0));
    });`;
  return spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: repoRoot,
    env: { ...process.env, KEY: device.keyPem, CERT: device.certPem, CA: device.caPem },
    stdio: "ignore",
  });
}

/** `mosquitto_pub --repeat`: one TLS record per message, the pattern that melted plain aedes. */
function mosquittoFlood(port: number, device: DeviceCredentials, count: number, seconds: number): ChildProcess {
  const home = join(dir.path, device.deviceId);
  return spawn(
    "timeout",
    [
      String(seconds),
      "mosquitto_pub",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "--cafile",
      join(home, "ca.pem"),
      "--cert",
      join(home, "device.pem"),
      "--key",
      join(home, "device.key"),
      "-i",
      device.deviceId,
      "-t",
      `devices/${device.deviceId}/telemetry`,
      "-m",
      "x".repeat(64),
      "-q",
      "0",
      "--repeat",
      String(count),
      "--repeat-delay",
      "0",
    ],
    { stdio: "ignore" },
  );
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()));
}

async function steadyTraffic(
  g: Gateway,
  device: DeviceCredentials,
  count: number,
  flooder: () => ChildProcess,
  flooderId: string,
) {
  const steadyTopic = `devices/${device.deviceId}/telemetry`;
  let steadyReceived = 0;
  let floodReceived = 0;
  const unsubscribe = await g.subscribe("devices/+/telemetry", (topic) => {
    if (topic === steadyTopic) steadyReceived++;
    else floodReceived++;
  });
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
  const flood = flooder();
  try {
    await waitFor(() => g.isConnected(flooderId) || flood.exitCode !== null, 10_000, "the flooder to connect");
    await waitFor(() => floodReceived > 1000 || flood.exitCode !== null, 10_000, "the flood to start");
    const client = await connectDevice(g.url, device);
    for (let i = 0; i < count; i++) await client.publishAsync(steadyTopic, `m${i}`, { qos: 1 });
    await waitFor(() => steadyReceived === count, 20_000, `${count} steady messages`);
    await client.endAsync();
    flood.kill("SIGTERM");
    await exited(flood);
  } finally {
    clearInterval(sampler);
    flood.kill("SIGKILL");
    await unsubscribe();
  }
  return { steadyReceived, floodReceived, rssGrowthMb: (rssPeak - rssBefore) / 2 ** 20 };
}

test("an MQTT.js QoS 0 flood from one device does not starve another; memory bounded; clean close", async () => {
  gateway = await startGateway(10_000_000);
  try {
    const result = await steadyTraffic(
      gateway,
      creds["steady-1"]!,
      200,
      () => mqttJsFlood(gateway.port, creds["flooder-1"]!, 400_000, 20),
      "flooder-1",
    );
    assert.equal(result.steadyReceived, 200, "every steady message arrived");
    assert.ok(result.floodReceived > 1000, `the flood was running (${result.floodReceived} delivered)`);
    assert.ok(result.rssGrowthMb < 400, `RSS grew ${result.rssGrowthMb.toFixed(0)} MB`);
  } finally {
    await gateway.stop();
  }
});

test(
  "a mosquitto_pub --repeat flood (one TLS record per message) is bounded: throttled, then disconnected; others unaffected",
  { skip: mosquittoSkip },
  async () => {
    // 1,000/s (burst 5,000), which any mosquitto_pub flood exceeds, and the default tolerance.
    gateway = await startGateway(1000, { ...FLOOD_PROFILE, maxMessagesPerSecond: 1000, burst: 5000 });
    const signals = recordSignals(t.platform, ["gateway.disconnected", "gateway.throttled"]);
    try {
      const result = await steadyTraffic(
        gateway,
        creds["steady-2"]!,
        200,
        () => mosquittoFlood(gateway.port, creds["flooder-2"]!, 2_000_000, 20),
        "flooder-2",
      );
      assert.equal(result.steadyReceived, 200, "every steady message arrived");
      assert.ok(result.rssGrowthMb < 400, `RSS grew ${result.rssGrowthMb.toFixed(0)} MB`);
      // Over its rate the flooder was throttled, then cut off.
      assert.ok(
        signals.of("gateway.throttled").some((s) => s.device === "flooder-2"),
        "throttled",
      );
      assert.equal(signals.of("gateway.disconnected").find((s) => s.device === "flooder-2")?.reason, "rate_abuse");
    } finally {
      await gateway.stop();
      signals.stop();
    }
  },
);
