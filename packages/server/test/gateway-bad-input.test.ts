import assert from "node:assert/strict";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { after, before, test } from "node:test";
import type { DeviceCredentials } from "../../device-sdk/src/index.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";
import { connectDevice, enrollDevice, rawTls, recordSignals, untilClosed, waitFor } from "./gateway-support.js";

// Hostile bytes from an authenticated device, and connections that never become MQTT.
// After each: the broker is still up and another device's traffic still flows.

let t: TestPlatform;
const dir = tempDir("vigil-gateway-bad-");
const creds: Record<string, DeviceCredentials> = {};

before(async () => {
  t = await startPlatform({ flags: { "mqtt-handshake-timeout-ms": "300", "mqtt-max-connections-per-source": "40" } });
  for (const id of ["bad-1", "good-1"]) creds[id] = await enrollDevice(t.platform, dir.path, id, "environmental-sensor");
});
after(async () => {
  await t.stop();
  dir.remove();
});

function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}

function str(value: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(value.length);
  return Buffer.concat([length, value]);
}

/** CONNECT, MQTT 3.1.1, clean session, keepalive 60 s. */
function connectPacket(clientId: string): Buffer {
  const body = Buffer.concat([str(Buffer.from("MQTT")), Buffer.from([0x04, 0x02, 0x00, 0x3c]), str(Buffer.from(clientId))]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** PUBLISH QoS 0 with the topic given as raw bytes (so that it may be anything). */
function publishPacket(topic: Buffer, payload: Buffer): Buffer {
  const body = Buffer.concat([str(topic), payload]);
  return Buffer.concat([Buffer.from([0x30]), remainingLength(body.length), body]);
}

/** Connects `bad-1` over TLS with its certificate, sends CONNECT, waits for CONNACK 0. */
async function connected() {
  const socket = await rawTls(t.platform.gateway.port, creds["bad-1"]!);
  const connack = new Promise<Buffer>((resolve) => socket.once("data", (d: Buffer) => resolve(d)));
  socket.write(connectPacket("bad-1"));
  assert.deepEqual([...(await connack)], [0x20, 0x02, 0x00, 0x00], "CONNACK accepted");
  return socket;
}

async function stillServing(): Promise<void> {
  const received: string[] = [];
  const unsubscribe = await t.platform.gateway.subscribe("devices/good-1/telemetry", (topic) => received.push(topic));
  const client = await connectDevice(t.platform.gateway.url, creds["good-1"]!);
  try {
    client.publish("devices/good-1/telemetry", "ok", { qos: 0 });
    await waitFor(() => received.length === 1, 5_000, "another device's message");
  } finally {
    await client.endAsync();
    await unsubscribe();
  }
}

test("malformed MQTT packets from an authenticated device close its connection, and only its", async () => {
  const signals = recordSignals(t.platform, ["gateway.disconnected"]);
  try {
    for (const [what, bytes] of [
      ["reserved packet type 0", Buffer.from([0x00, 0x00])],
      ["remaining length over 4 bytes", Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])],
      ["SUBSCRIBE with reserved flags 0000 [MQTT-3.8.1-1]", Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00])],
      ["PUBLISH with both QoS bits set", Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01])],
      ["a second CONNECT [MQTT-3.1.0-2]", connectPacket("bad-1")],
      ["random bytes", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
    ] as const) {
      const socket = await connected();
      const closed = untilClosed(socket);
      socket.write(bytes);
      assert.equal((await closed).closed, true, `${what}: connection closed`);
    }
    await waitFor(() => signals.of("gateway.disconnected").length === 6, 5_000, "6 disconnect signals");
    assert.ok(signals.of("gateway.disconnected").every((d) => d.device === "bad-1"));
    await stillServing();
  } finally {
    signals.stop();
  }
});

test("hostile PUBLISH topics and payloads are denied with a reason, and the device disconnected", async () => {
  const signals = recordSignals(t.platform, ["gateway.denied", "gateway.disconnected"]);
  const received: string[] = [];
  const unsubscribe = await t.platform.gateway.subscribe("#", (topic) => {
    if (!topic.startsWith("$")) received.push(topic);
  });
  try {
    const cases = [
      ["wildcard +", Buffer.from("devices/bad-1/+"), Buffer.from("x"), "wildcard_publish"],
      ["wildcard #", Buffer.from("devices/bad-1/#"), Buffer.from("x"), "wildcard_publish"],
      ["300-byte topic", Buffer.from(`devices/bad-1/${"a".repeat(300)}`), Buffer.from("x"), "topic_too_long"],
      ["20 levels", Buffer.from(`devices/bad-1/${"a/".repeat(18)}a`), Buffer.from("x"), "topic_too_deep"],
      [
        "non-UTF-8 bytes",
        Buffer.concat([Buffer.from("devices/bad-1/"), Buffer.from([0xff, 0xfe, 0xc3])]),
        Buffer.from("x"),
        "topic_invalid_utf8",
      ],
      ["U+0000 in the topic", Buffer.from("devices/bad-1/tele\u0000metry"), Buffer.from("x"), "topic_invalid"],
      [
        "payload over the profile's 512 bytes",
        Buffer.from("devices/bad-1/telemetry"),
        Buffer.alloc(513, 0x41),
        "payload_too_large",
      ],
      [
        "packet over what the policy can ever allow (refused from its header)",
        Buffer.from("devices/bad-1/telemetry"),
        Buffer.alloc(200_000, 0x41),
        "packet_too_large",
      ],
    ] as const;
    for (const [what, topic, payload, reason] of cases) {
      const socket = await connected();
      const closed = untilClosed(socket);
      socket.write(publishPacket(topic, payload));
      assert.equal((await closed).closed, true, `${what}: connection closed`);
      await waitFor(() => signals.of("gateway.denied").some((d) => d.reason === reason), 5_000, `${what}: ${reason}`);
    }
    await waitFor(() => signals.of("gateway.disconnected").length === cases.length, 5_000, "disconnect signals");
    assert.deepEqual(received, [], "nothing denied was routed");
    await stillServing();
  } finally {
    await unsubscribe();
    signals.stop();
  }
});

test("a TLS handshake that never completes is timed out; a client without a certificate is refused", async () => {
  const signals = recordSignals(t.platform, ["gateway.connect_refused"]);
  try {
    const silent = netConnect({ host: "127.0.0.1", port: t.platform.gateway.port });
    const closed = new Promise<void>((resolve) => silent.once("close", () => resolve()));
    silent.on("error", () => undefined);
    await closed;
    await waitFor(
      () => signals.of("gateway.connect_refused").some((s) => s.reason === "tls_handshake_timeout"),
      5_000,
      "timeout signal",
    );

    const anonymous = tlsConnect({
      host: "127.0.0.1",
      port: t.platform.gateway.port,
      ca: creds["good-1"]!.caPem,
      servername: "",
    });
    const outcome = await new Promise<string>((resolve) => {
      anonymous.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
      anonymous.once("close", () => resolve("closed"));
      anonymous.once("secureConnect", () => anonymous.write(connectPacket("good-1")));
      anonymous.once("data", () => resolve("data"));
    });
    assert.notEqual(outcome, "data", "no MQTT without a client certificate");
    await stillServing();
  } finally {
    signals.stop();
  }
});

test("a connection flood from one source is cut before the TLS handshake; the source recovers", async () => {
  const signals = recordSignals(t.platform, ["gateway.connect_refused"]);
  const sockets: Socket[] = [];
  try {
    let refused = 0;
    const closes: Promise<void>[] = [];
    for (let i = 0; i < 150; i++) {
      const socket = netConnect({ host: "127.0.0.1", port: t.platform.gateway.port });
      socket.on("error", () => undefined);
      closes.push(new Promise((resolve) => socket.once("close", () => resolve())));
      sockets.push(socket);
    }
    await Promise.all(closes); // refused at once, or timed out by the 300 ms handshake timeout
    refused = signals.of("gateway.connect_refused").filter((s) => s.reason.startsWith("source_rate_exceeded")).length;
    assert.ok(refused >= 1, "a coalesced source_rate_exceeded signal");
    // The bucket refills (40/s): the same source connects again.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await stillServing();
  } finally {
    for (const socket of sockets) socket.destroy();
    signals.stop();
  }
});
