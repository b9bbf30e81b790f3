// Legacy devices (issue 4): username/password (argon2id) over server-authenticated TLS, only
// when `mqtt.legacyPasswordAuth` is on; marked legacy; still policy-enforced; never plaintext.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import mqtt, { type IClientOptions } from "mqtt";
import type { DeviceCredentials } from "../../device-sdk/src/index.js";
import { ApiError, callApi } from "../src/cli/client.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";
import { closedOf, connectDevice, enrollDevice, recordSignals, waitFor } from "./gateway-support.js";

const PASSWORD = "legacy-device-password-0123456789";
let t: TestPlatform;
const dir = tempDir("vigil-gateway-legacy-");
let certDevice: DeviceCredentials;

function legacyOptions(t: TestPlatform, extra: IClientOptions = {}): IClientOptions {
  return {
    ca: t.platform.ca,
    clientId: "legacy-1",
    username: "legacy-1",
    password: PASSWORD,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...extra,
  };
}

/** The CONNACK return code of a refused connection (MQTT.js puts it on the error). */
async function refusedWith(url: string, options: IClientOptions): Promise<number | string> {
  try {
    const client = await mqtt.connectAsync(url, options);
    await client.endAsync();
    return "connected";
  } catch (error) {
    return (error as { code?: number | string }).code ?? (error as Error).message;
  }
}

before(async () => {
  t = await startPlatform({ flags: { "mqtt-legacy-password-auth": "true" } });
  for (const id of ["legacy-1", "legacy-2"]) {
    await callApi(t.admin, "POST", "/api/v1/devices", { id, profile: "environmental-sensor" });
  }
  await callApi(t.admin, "POST", "/api/v1/devices/legacy-1/legacy-password", { password: PASSWORD });
  certDevice = await enrollDevice(t.platform, dir.path, "sensor-1", "environmental-sensor");
});
after(async () => {
  await t.stop();
  dir.remove();
});

test("an operator sets a legacy password: stored as argon2id, weak or unknown refused", { timeout: 30_000 }, async () => {
  const stored = await t.platform.store.legacyCredentials.get("legacy-1" as never);
  assert.ok(stored !== undefined && stored.passwordHash.startsWith("$argon2id$"));
  assert.ok(!stored.passwordHash.includes(PASSWORD));
  assert.equal(stored.setBy, "admin");
  await assert.rejects(
    callApi(t.admin, "POST", "/api/v1/devices/legacy-2/legacy-password", { password: "short" }),
    (e: unknown) => e instanceof ApiError && e.status === 400 && e.code === "DEVICE_PASSWORD_WEAK",
  );
  await assert.rejects(
    callApi(t.admin, "POST", "/api/v1/devices/nobody/legacy-password", { password: PASSWORD }),
    (e: unknown) => e instanceof ApiError && e.status === 404,
  );
  await assert.rejects(
    callApi(t.anonymous, "POST", "/api/v1/devices/legacy-2/legacy-password", { password: PASSWORD }),
    (e: unknown) => e instanceof ApiError && e.status === 401,
  );
});

test(
  "enabled: a legacy device connects with its password over TLS, is marked legacy and is still policy-enforced",
  { timeout: 30_000 },
  async () => {
    const gateway = t.platform.gateway;
    const signals = recordSignals(t.platform, [
      "gateway.connected",
      "device.legacy_auth_used",
      "gateway.denied",
      "gateway.disconnected",
    ]);
    const received: string[] = [];
    const unsubscribe = await gateway.subscribe("devices/+/telemetry", (topic) => received.push(topic));
    const client = await mqtt.connectAsync(gateway.url, legacyOptions(t));
    try {
      assert.ok(gateway.url.startsWith("mqtts://"));
      assert.deepEqual(
        gateway.sessions().map((s) => [s.device, s.legacy, s.serial, s.profile]),
        [["legacy-1", true, "", "environmental-sensor"]],
      );
      assert.deepEqual(
        signals.of("device.legacy_auth_used").map((s) => s.device),
        ["legacy-1"],
      );
      assert.equal(signals.of("gateway.connected")[0]?.device, "legacy-1");

      await client.publishAsync("devices/legacy-1/telemetry", "{}", { qos: 0 }); // the profile's maximum QoS
      await waitFor(() => received.length === 1, 5_000, "legacy telemetry");

      // Another device's topic: denied and disconnected, as for any device.
      const closed = closedOf(client);
      client.publish("devices/legacy-2/telemetry", "{}", { qos: 0 });
      await closed;
      await waitFor(() => signals.of("gateway.disconnected").length === 1, 5_000, "disconnect signal");
      assert.deepEqual(
        signals.of("gateway.denied").map((d) => [d.device, d.topic, d.reason]),
        [["legacy-1", "devices/legacy-2/telemetry", "cross_device_topic"]],
      );
      assert.equal(signals.of("gateway.disconnected")[0]?.reason, "policy_violation");
    } finally {
      signals.stop();
      await unsubscribe();
      client.end(true);
    }
  },
);

test(
  "enabled: wrong password, wrong username, no password set, no credentials are refused with a signal",
  { timeout: 30_000 },
  async () => {
    const url = t.platform.gateway.url;
    const signals = recordSignals(t.platform, ["gateway.connect_refused"]);
    try {
      assert.equal(await refusedWith(url, legacyOptions(t, { password: "not-the-password-at-all" })), 4);
      assert.equal(await refusedWith(url, legacyOptions(t, { username: "legacy-2" })), 4);
      assert.equal(
        await refusedWith(url, legacyOptions(t, { clientId: "legacy-2", username: "legacy-2" })),
        4, // no password was set for legacy-2
      );
      assert.equal(await refusedWith(url, legacyOptions(t, { username: undefined, password: undefined })), 5);
      assert.deepEqual(
        signals.of("gateway.connect_refused").map((s) => [s.device, s.reason, s.returnCode]),
        [
          ["legacy-1", "legacy_password_invalid", 4],
          ["legacy-1", "legacy_username_mismatch", 4],
          ["legacy-2", "legacy_password_invalid", 4],
          [null, "no_certificate", 5],
        ],
      );
      assert.equal(t.platform.gateway.sessionCount, 0);
    } finally {
      signals.stop();
    }
  },
);

test("enabled: certificate devices are unaffected, and a revoked legacy device is refused", { timeout: 30_000 }, async () => {
  const gateway = t.platform.gateway;
  const client = await connectDevice(gateway.url, certDevice);
  try {
    assert.deepEqual(
      gateway.sessions().map((s) => [s.device, s.legacy]),
      [["sensor-1", false]],
    );
  } finally {
    await client.endAsync();
  }
  // With legacy auth on, OpenSSL no longer refuses an untrusted certificate: the gateway does.
  const signals = recordSignals(t.platform, ["gateway.connect_refused"]);
  const keyFile = join(dir.path, "rogue.key");
  const certFile = join(dir.path, "rogue.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=sensor-1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "ignore" },
  );
  const rogue = { ca: t.platform.ca, key: readFileSync(keyFile), cert: readFileSync(certFile), clientId: "sensor-1" };
  assert.equal(await refusedWith(gateway.url, { ...rogue, protocolVersion: 4, reconnectPeriod: 0 }), 5);
  assert.equal(
    await refusedWith(gateway.url, {
      ...rogue,
      username: "legacy-1",
      password: PASSWORD,
      clientId: "legacy-1",
      protocolVersion: 4,
      reconnectPeriod: 0,
    }),
    5,
  );
  assert.deepEqual(
    signals.of("gateway.connect_refused").map((s) => s.reason),
    ["certificate_untrusted", "certificate_untrusted"],
  );
  signals.stop();

  await t.platform.identity.revokeDevice("legacy-1", "keyCompromise", "test");
  assert.equal(await refusedWith(gateway.url, legacyOptions(t)), 5);
});

test("never plaintext: plain MQTT to the gateway port gets no CONNACK", { timeout: 30_000 }, async () => {
  const port = t.platform.gateway.port;
  const socket = netConnect({ host: "127.0.0.1", port });
  const reply: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => reply.push(chunk));
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  // CONNECT, MQTT 3.1.1, clean session, username+password flags, client id "legacy-1".
  const id = Buffer.from("legacy-1");
  const pw = Buffer.from(PASSWORD);
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0xc2, 0, 60]),
    Buffer.from([0, id.length]),
    id,
    Buffer.from([0, id.length]),
    id,
    Buffer.from([0, pw.length]),
    pw,
  ]);
  socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
  await new Promise<void>((resolve) => {
    socket.once("close", () => resolve());
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, 3_000).unref();
  });
  // Whatever came back is a TLS alert, never a CONNACK (0x20).
  assert.notEqual(Buffer.concat(reply)[0], 0x20);
  assert.equal(t.platform.gateway.sessionCount, 0);
});

test(
  "disabled (the default): no certificate means no TLS session, even with the right password",
  { timeout: 30_000 },
  async () => {
    const other = await startPlatform();
    try {
      await callApi(other.admin, "POST", "/api/v1/devices", { id: "legacy-1", profile: "environmental-sensor" });
      await callApi(other.admin, "POST", "/api/v1/devices/legacy-1/legacy-password", { password: PASSWORD });
      const outcome = await refusedWith(other.platform.gateway.url, legacyOptions(other));
      assert.notEqual(outcome, "connected");
      assert.equal(typeof outcome, "string"); // a TLS failure, not a CONNACK code
      assert.equal(other.platform.gateway.sessionCount, 0);
    } finally {
      await other.stop();
    }
  },
);
