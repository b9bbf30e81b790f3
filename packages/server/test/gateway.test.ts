import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { DeviceCredentials } from "../../device-sdk/src/index.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";
import { closedOf, connectDevice, enrollDevice, recordSignals, waitFor } from "./gateway-support.js";

let t: TestPlatform;
const dir = tempDir("vigil-gateway-");
const creds: Record<string, DeviceCredentials> = {};

before(async () => {
  t = await startPlatform({ flags: { "mqtt-throttle-drops-before-disconnect": "40" } });
  for (const [id, profile] of [
    ["sensor-1", "environmental-sensor"],
    ["sensor-2", "environmental-sensor"],
    ["pump-1", "infusion-pump"],
    ["pump-2", "infusion-pump"],
    ["cam-1", "ip-camera"],
    ["meter-1", "smart-meter"],
    ["meter-2", "smart-meter"],
    ["plc-1", "plc"],
  ] as const) {
    creds[id] = await enrollDevice(t.platform, dir.path, id, profile);
  }
});
after(async () => {
  await t.stop();
  dir.remove();
});

test("a device connects with its certificate, publishes telemetry, subscribes its own topics and receives commands", async () => {
  const gateway = t.platform.gateway;
  const signals = recordSignals(t.platform, ["gateway.connected", "gateway.denied", "gateway.disconnected"]);
  const received: string[] = [];
  const unsubscribe = await gateway.subscribe("devices/+/telemetry", (topic, payload) =>
    received.push(`${topic} ${payload.toString()}`),
  );
  const client = await connectDevice(gateway.url, creds["pump-1"]!);
  try {
    assert.ok(gateway.isConnected("pump-1"));
    assert.deepEqual(
      signals.of("gateway.connected").map((s) => [s.device, s.profile, s.tier]),
      [["pump-1", "infusion-pump", "standard"]],
    );

    await client.publishAsync("devices/pump-1/telemetry", '{"rate":5}', { qos: 1 });
    await waitFor(() => received.length === 1, 5_000, "telemetry delivery");
    assert.equal(received[0], 'devices/pump-1/telemetry {"rate":5}');

    // Its own config topic and the control channel are granted; another device's, `#` and $SYS are not (SUBACK 0x80).
    const suback = new Promise<number[]>((resolve) =>
      client.on("packetreceive", (packet) => {
        if (packet.cmd === "suback") resolve(packet.granted as number[]);
      }),
    );
    // MQTT.js rejects the subscription as a whole when one filter gets 0x80 (DEPENDENCIES.md).
    client.subscribe(
      {
        "devices/pump-1/config": { qos: 1 },
        "vigil/pump-1/cmd": { qos: 1 },
        "devices/pump-2/config": { qos: 0 },
        "#": { qos: 0 },
        "$SYS/#": { qos: 0 },
      },
      () => undefined,
    );
    assert.deepEqual(await suback, [1, 1, 128, 128, 128]);
    const denied = signals.of("gateway.denied");
    assert.deepEqual(
      denied.map((d) => [d.action, d.topic, d.reason]),
      [
        ["subscribe", "devices/pump-2/config", "cross_device_topic"],
        ["subscribe", "#", "wildcard_subscribe_not_allowed"],
        ["subscribe", "$SYS/#", "sys_topic"],
      ],
    );

    // Server-to-device command on the control channel; the device acks on its ack topic.
    const command = new Promise<string>((resolve) =>
      client.once("message", (topic, payload) => resolve(`${topic} ${payload.toString()}`)),
    );
    const sent = await gateway.sendCommand("pump-1", { op: "reattest" });
    assert.equal(sent.online, true);
    assert.equal(await command, 'vigil/pump-1/cmd {"op":"reattest"}');
    await client.publishAsync("vigil/pump-1/ack", "ok", { qos: 1 });
    assert.ok(client.connected);
  } finally {
    await client.endAsync();
    await unsubscribe();
    signals.stop();
  }
  await waitFor(() => !gateway.isConnected("pump-1"), 5_000, "session end");
});

test("a PUBLISH outside the policy is dropped and the device disconnected [MQTT-3.3.5-2], with signals", async () => {
  const gateway = t.platform.gateway;
  const signals = recordSignals(t.platform, ["gateway.denied", "gateway.disconnected"]);
  const received: string[] = [];
  const unsubscribe = await gateway.subscribe("devices/#", (topic) => received.push(topic));
  try {
    for (const [topic, reason] of [
      ["devices/pump-2/telemetry", "cross_device_topic"],
      ["devices/pump-1/firmware", "topic_not_allowed"],
      ["$SYS/broker/load", "sys_topic"],
      ["vigil/pump-1/cmd", "topic_not_allowed"],
    ] as const) {
      const client = await connectDevice(gateway.url, creds["pump-1"]!);
      const closed = closedOf(client);
      client.publish(topic, "x", { qos: 0 });
      await closed;
      await waitFor(() => signals.of("gateway.disconnected").some((d) => d.topic === topic), 5_000, `disconnect after ${topic}`);
      const denial = signals.of("gateway.denied").find((d) => d.topic === topic);
      assert.equal(denial?.reason, reason, topic);
      assert.equal(denial?.device, "pump-1");
      assert.equal(signals.of("gateway.disconnected").find((d) => d.topic === topic)?.reason, "policy_violation");
      client.end(true);
    }
    // A payload over the profile's limit (environmental-sensor: 512 bytes) and a QoS above its maxQos (0).
    for (const [payload, qos, reason] of [
      [Buffer.alloc(600, 1), 0, "payload_too_large"],
      [Buffer.alloc(10, 1), 1, "qos_too_high"],
    ] as const) {
      const client = await connectDevice(gateway.url, creds["sensor-1"]!);
      const closed = closedOf(client);
      client.publish("devices/sensor-1/telemetry", payload, { qos });
      await closed;
      await waitFor(() => signals.of("gateway.denied").some((d) => d.reason === reason), 5_000, reason);
      client.end(true);
    }
    assert.deepEqual(received, [], "nothing denied was delivered");
  } finally {
    await unsubscribe();
    signals.stop();
  }
});

test("over its rate a device's messages are dropped and throttled signals coalesced; sustained flooding disconnects it", async () => {
  const gateway = t.platform.gateway;
  const signals = recordSignals(t.platform, ["gateway.throttled", "gateway.disconnected"]);
  const received: string[] = [];
  const unsubscribe = await gateway.subscribe("devices/meter-1/telemetry", (topic) => received.push(topic));
  // smart-meter: 0.1 msg/s, burst 20, QoS <= 1. The test platform tolerates 40 drops.
  const client = await connectDevice(gateway.url, creds["meter-1"]!);
  try {
    for (let i = 0; i < 30; i++) await client.publishAsync("devices/meter-1/telemetry", `r${i}`, { qos: 1 });
    assert.ok(client.connected, "30 messages (10 over) throttle but do not disconnect");
    await waitFor(() => received.length >= 20, 5_000, "the burst to arrive");
    const throttled = signals.of("gateway.throttled");
    assert.ok(throttled.length >= 1 && throttled.length < 10, `coalesced: ${throttled.length} signals for 10 drops`);
    assert.equal(throttled[0]?.device, "meter-1");
    assert.equal(throttled[0]?.ratePerSecond, 0.1);

    const closed = closedOf(client);
    for (let i = 0; i < 100 && client.connected; i++) client.publish("devices/meter-1/telemetry", `f${i}`, { qos: 0 });
    await closed;
    await waitFor(
      () => signals.of("gateway.disconnected").some((d) => d.device === "meter-1" && d.reason === "rate_abuse"),
      5_000,
      "rate_abuse",
    );
    const dropped = signals.of("gateway.throttled").reduce((sum, s) => sum + s.dropped, 0);
    assert.ok(dropped >= 40, `every drop is counted in the signals (${dropped})`);
    assert.equal(received.length, 20, "only the burst was delivered");
  } finally {
    client.end(true);
    await unsubscribe();
    signals.stop();
  }
});

test("client id other than the certificate's device id: CONNACK 2 (identifier rejected), signal", async () => {
  const signals = recordSignals(t.platform, ["gateway.connect_refused"]);
  try {
    await assert.rejects(
      connectDevice(t.platform.gateway.url, creds["sensor-2"]!, { clientId: "sensor-1" }),
      (e: Error & { code?: number }) => e.code === 2,
    );
    await assert.rejects(
      connectDevice(t.platform.gateway.url, creds["sensor-2"]!, { clientId: "", clean: true }),
      (e: Error & { code?: number }) => e.code === 2,
    );
    assert.deepEqual(
      signals.of("gateway.connect_refused").map((s) => [s.device, s.reason, s.returnCode]),
      [
        ["sensor-2", "client_id_mismatch", 2],
        ["sensor-2", "client_id_mismatch", 2],
      ],
    );
    assert.equal(t.platform.gateway.isConnected("sensor-1"), false);
  } finally {
    signals.stop();
  }
});

test("revocation cuts the live session at once, and the certificate is refused afterwards (CONNACK 5)", async () => {
  const gateway = t.platform.gateway;
  const signals = recordSignals(t.platform, ["gateway.disconnected", "gateway.connect_refused"]);
  const client = await connectDevice(gateway.url, creds["meter-2"]!);
  const closed = closedOf(client);
  try {
    await t.platform.identity.revokeDevice("meter-2", "keyCompromise", "test");
    // The session is gone from the gateway as soon as the revocation returns ...
    assert.equal(gateway.isConnected("meter-2"), false);
    // ... and the device's connection closes (bounded wait, no timing assertion).
    await closed;
    await waitFor(() => signals.of("gateway.disconnected").some((d) => d.device === "meter-2"), 5_000, "disconnect signal");
    assert.equal(signals.of("gateway.disconnected").find((d) => d.device === "meter-2")?.reason, "revoked");
    await assert.rejects(connectDevice(gateway.url, creds["meter-2"]!), (e: Error & { code?: number }) => e.code === 5);
    assert.equal(signals.of("gateway.connect_refused").at(-1)?.reason, "certificate_revoked");
  } finally {
    client.end(true);
    signals.stop();
  }
});

test("the same certificate connected twice: the newer session takes over, both are noticed (identity.cloned_suspected)", async () => {
  const gateway = t.platform.gateway;
  const signals = recordSignals(t.platform, ["identity.cloned_suspected", "gateway.disconnected"]);
  const first = await connectDevice(gateway.url, creds["cam-1"]!);
  const firstClosed = closedOf(first);
  const second = await connectDevice(gateway.url, creds["cam-1"]!);
  try {
    await firstClosed;
    const cloned = signals.of("identity.cloned_suspected");
    assert.equal(cloned.length, 1);
    assert.equal(cloned[0]?.device, "cam-1");
    assert.equal(cloned[0]?.remotes.length, 2);
    assert.equal(cloned[0]?.sameHost, true);
    await waitFor(() => signals.of("gateway.disconnected").some((d) => d.device === "cam-1"), 5_000, "takeover signal");
    assert.equal(signals.of("gateway.disconnected").find((d) => d.device === "cam-1")?.reason, "taken_over");
    assert.ok(second.connected);
    assert.equal(gateway.sessions().filter((s) => s.device === "cam-1").length, 1, "one session, one policy");
    await second.publishAsync("devices/cam-1/telemetry", "{}", { qos: 1 });
  } finally {
    first.end(true);
    await second.endAsync();
    signals.stop();
  }
});

test("quarantine recompiles the live session's policy at once: only the control channel is left", async () => {
  const gateway = t.platform.gateway;
  const signals = recordSignals(t.platform, ["gateway.policy_changed", "gateway.denied", "gateway.disconnected"]);
  const received: string[] = [];
  const unsubscribe = await gateway.subscribe("devices/pump-2/telemetry", (topic) => received.push(topic));
  const client = await connectDevice(gateway.url, creds["pump-2"]!);
  const messages: string[] = [];
  client.on("message", (topic) => messages.push(topic));
  try {
    await client.subscribeAsync({ "devices/pump-2/config": { qos: 1 }, "vigil/pump-2/cmd": { qos: 1 } });
    await client.publishAsync("devices/pump-2/telemetry", "before", { qos: 1 });
    await waitFor(() => received.length === 1, 5_000, "delivery before quarantine");
    await gateway.publish("devices/pump-2/config", "library v1", { qos: 1 });
    await waitFor(() => messages.length === 1, 5_000, "config before quarantine");

    assert.equal(await gateway.quarantine("pump-2", "test: anomaly"), 1);
    assert.equal(gateway.policyOf("pump-2")?.tier, "quarantine");
    assert.deepEqual(
      signals.of("gateway.policy_changed").map((s) => [s.device, s.from, s.to]),
      [["pump-2", "standard", "quarantine"]],
    );

    // The control channel still works both ways; the config subscription is gone ...
    await gateway.publish("devices/pump-2/config", "library v2", { qos: 1 });
    await gateway.sendCommand("pump-2", "reattest");
    await waitFor(() => messages.length === 2, 5_000, "command");
    assert.deepEqual(messages, ["devices/pump-2/config", "vigil/pump-2/cmd"]);
    await client.publishAsync("vigil/pump-2/ack", "ok", { qos: 1 });
    // ... and telemetry is denied.
    const closed = closedOf(client);
    client.publish("devices/pump-2/telemetry", "after", { qos: 0 });
    await closed;
    await waitFor(() => signals.of("gateway.denied").length === 1, 5_000, "denial");
    assert.equal(signals.of("gateway.denied")[0]?.reason, "topic_not_allowed");
    assert.deepEqual(received, ["devices/pump-2/telemetry"]);

    // Re-admission applies to the live session at once too. (Which tier a *new* session gets
    // is the TierSource's answer, e.g. the trust module's, not this call's.)
    const again = await connectDevice(gateway.url, creds["pump-2"]!);
    assert.equal(await gateway.quarantine("pump-2", "test: still suspicious"), 1);
    assert.equal(await gateway.applyTier("pump-2", "standard", "test: re-admitted"), 1);
    assert.equal(gateway.policyOf("pump-2")?.tier, "standard");
    await again.publishAsync("devices/pump-2/telemetry", "re-admitted", { qos: 1 });
    await waitFor(() => received.length === 2, 5_000, "delivery after re-admission");
    await again.endAsync();
  } finally {
    client.end(true);
    await unsubscribe();
    signals.stop();
  }
});
