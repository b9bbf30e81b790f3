import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  DeviceSdkError,
  ReprovisionAgent,
  connect,
  enroll,
  loadCredentials,
  publicKeyFingerprint,
  reprovision,
  type DeviceConnection,
  type DeviceCredentials,
} from "../../device-sdk/src/index.js";
import { callApi } from "../src/cli/client.js";
import { connectDevice, enrollDevice, recordSignals, waitFor } from "./gateway-support.js";
import { credentialsFile, saveToken } from "../src/cli/credentials.js";
import { cleanEnv, runCli, startPlatform, tempDir, type TestPlatform } from "./support.js";

// Recovery end to end: re-attestation and re-provisioning with fresh keys through the real
// EST door, gateway and SDK; a permanent revocation stays permanent; every mitigation can be
// rolled back by an operator (API and CLI).

let t: TestPlatform;
const dir = tempDir("vigil-recovery-");
const creds: Record<string, DeviceCredentials> = {};

const playbooks = `
- id: sensors-reattest
  match: { rules: [lateral_movement], profiles: [environmental-sensor] }
  actions: [{ type: reattest }, { type: notify }]
  approval: { require: never }
- id: meters-reprovision
  match: { rules: [flood, lateral_movement], profiles: [smart-meter] }
  actions: [{ type: reprovision, ackTimeoutMs: 5000 }, { type: notify }]
  approval: { require: never }
- id: vehicles-revoke
  match: { rules: [lateral_movement], profiles: [vehicle-telematics] }
  actions: [{ type: revoke }]
  approval: { require: never }
- id: cameras-quarantine
  match: { rules: [lateral_movement], profiles: [ip-camera] }
  actions: [{ type: quarantine, releaseOn: reattestation }, { type: notify }]
  approval: { require: never }
`;

before(async () => {
  const file = join(dir.path, "playbooks.yaml");
  writeFileSync(file, playbooks);
  t = await startPlatform({ flags: { "response-playbooks-file": file, "response-tick-ms": "60000" } });
  for (const [id, profile] of [
    ["sensor-r", "environmental-sensor"],
    ["sensor-p", "environmental-sensor"],
    ["meter-r", "smart-meter"],
    ["cam-r", "ip-camera"],
    ["victim", "environmental-sensor"],
    ["veh-r", "vehicle-telematics"],
  ] as const) {
    creds[id] = await enrollDevice(t.platform, dir.path, id, profile);
  }
});
after(async () => {
  await t.stop();
  dir.remove();
});

async function incidentOf(device: string) {
  await t.platform.response.idle();
  const [inc] = await t.platform.response.list({ limit: 5, device });
  assert.ok(inc, `an incident for ${device}`);
  return inc;
}

/** Lateral movement through the real gateway: publishing on another device's control channel. */
async function lateral(id: string): Promise<void> {
  const client = await connectDevice(t.platform.gateway.url, creds[id]!);
  client.on("error", () => undefined);
  client.publish("vigil/victim/cmd", JSON.stringify({ cmd: "reboot" }), { qos: 1 }, () => undefined);
  await new Promise((r) => setTimeout(r, 200));
  client.end(true);
}

async function boundToken(device: string): Promise<string> {
  const { tokens } = await t.platform.enrollment.createTokens({
    profile: "environmental-sensor",
    deviceId: device,
    ttlSeconds: 600,
    count: 1,
    by: "test",
  });
  return tokens[0]!;
}

test("reattest: the revoked device comes back only through the door, with a new key; old certificates stay revoked", async () => {
  const signals = recordSignals(t.platform, ["response.action_taken", "incident.state_changed", "enrollment.failed"]);
  try {
    const oldSerial = creds["sensor-r"]!.serial;
    await lateral("sensor-r");
    await waitFor(
      () => signals.of("response.action_taken").some((a) => a.device === "sensor-r" && a.action === "reattest"),
      8_000,
      "reattest",
    );
    let inc = await incidentOf("sensor-r");
    assert.equal(inc.state, "contained");
    assert.equal(inc.mitigation?.releaseOn, "reattestation");
    assert.equal((await t.platform.store.devices.get("sensor-r" as never))?.state, "revoked");

    // The old key is refused, with a fresh valid token: nothing changes (token unused, device revoked).
    const token = await boundToken("sensor-r");
    await assert.rejects(
      enroll({
        server: t.platform.url,
        caPem: t.platform.ca,
        deviceId: "sensor-r",
        dir: join(dir.path, "sensor-r"),
        attestation: { kind: "claim-token", token },
      }),
      (e: unknown) => e instanceof DeviceSdkError && e.serverCode === "ENROLLMENT_KEY_REUSED",
    );
    assert.equal((await t.platform.store.devices.get("sensor-r" as never))?.state, "revoked");
    const unused = await t.platform.enrollment.listTokens(false);
    assert.ok(
      unused.some((r) => token.includes(r.id)),
      "the token was not consumed by the refused attempt",
    );
    inc = await incidentOf("sensor-r");
    assert.equal(inc.state, "contained");

    // Without any attestation: refused too.
    await assert.rejects(
      enroll({
        server: t.platform.url,
        caPem: t.platform.ca,
        deviceId: "sensor-r",
        dir: join(dir.path, "sensor-r-noauth"),
        attestation: { kind: "pre-registered" },
      }),
      (e: unknown) => e instanceof DeviceSdkError && e.serverCode === "ENROLLMENT_AUTH_REQUIRED",
    );

    // A fresh key and the token: re-admitted.
    const oldKey = publicKeyFingerprint(creds["sensor-r"]!.keyPem);
    const fresh = await reprovision({ server: t.platform.url, dir: join(dir.path, "sensor-r"), token });
    assert.notEqual(fresh.serial, oldSerial);
    assert.notEqual(publicKeyFingerprint(fresh.keyPem), oldKey);
    assert.equal(existsSync(join(dir.path, "sensor-r", "device.key.retired")), false, "the old key is gone");
    inc = await incidentOf("sensor-r");
    assert.equal(inc.state, "recovering", "recovered at the door, not yet back online");
    assert.equal(inc.mitigation, null);
    assert.ok(inc.timeline.some((e) => e.summary.includes("recovered: passed the checks at the door again")));
    const certs = await t.platform.identity.certificatesOf("sensor-r");
    assert.ok(certs.find((c) => c.serial.replace(/^0+/, "") === oldSerial.replace(/^0+/, ""))?.revokedAt != null);
    assert.equal(certs.filter((c) => c.revokedAt === null).length, 1);

    // The token is single-use: replaying it for another re-admission fails.
    await assert.rejects(
      enroll({
        server: t.platform.url,
        caPem: t.platform.ca,
        deviceId: "sensor-r",
        dir: join(dir.path, "sensor-r-replay"),
        attestation: { kind: "claim-token", token },
      }),
      (e: unknown) => e instanceof DeviceSdkError && e.serverCode === "ENROLLMENT_ALREADY_ENROLLED",
    );

    // The old certificate stays refused at the gateway; the new one connects, above quarantine: resolved.
    await assert.rejects(connectDevice(t.platform.gateway.url, creds["sensor-r"]!));
    const client = await connectDevice(t.platform.gateway.url, await loadCredentials(join(dir.path, "sensor-r")));
    try {
      await waitFor(
        () => signals.of("incident.state_changed").some((s) => s.device === "sensor-r" && s.to === "resolved"),
        5_000,
        `resolved (tier ${t.platform.gateway.policyOf("sensor-r")?.tier}, ${JSON.stringify(t.platform.trust.explain("sensor-r")?.ceilings ?? null)})`,
      );
      assert.notEqual(t.platform.gateway.policyOf("sensor-r")?.tier, "quarantine", "trust scores the new certificate");
      const done = await incidentOf("sensor-r");
      assert.equal(done.state, "resolved");
      assert.notEqual(done.resolvedAt, null);
    } finally {
      client.end(true);
    }
  } finally {
    signals.stop();
  }
});

test("a permanent revocation stays permanent: the door refuses even a valid token and a new key", async () => {
  await t.platform.identity.revokeDevice("sensor-p", "keyCompromise", "admin");
  const token = await boundToken("sensor-p");
  await assert.rejects(
    enroll({
      server: t.platform.url,
      caPem: t.platform.ca,
      deviceId: "sensor-p",
      dir: join(dir.path, "sensor-p-new"),
      attestation: { kind: "claim-token", token },
    }),
    (e: unknown) => e instanceof DeviceSdkError && e.serverCode === "DEVICE_REVOKED",
  );
  assert.equal((await t.platform.store.devices.get("sensor-p" as never))?.state, "revoked");
  assert.ok((await t.platform.enrollment.listTokens(false)).some((r) => token.includes(r.id)));
});

test("reprovision: the token goes over the control channel, the SDK re-enrolls a NEW key and reconnects", async () => {
  const signals = recordSignals(t.platform, ["response.action_taken", "incident.state_changed"]);
  const deviceDir = join(dir.path, "meter-r");
  let first: DeviceConnection | undefined;
  let second: DeviceConnection | undefined;
  try {
    first = await connect({ url: t.platform.gateway.url, dir: deviceDir, reconnect: { minMs: 200, maxMs: 500 } });
    first.on("error", () => undefined);
    const agent = new ReprovisionAgent({
      server: t.platform.url,
      dir: deviceDir,
      connect: { url: t.platform.gateway.url, reconnect: { minMs: 200, maxMs: 500 } },
    });
    const back = new Promise<DeviceConnection>((resolve, reject) => {
      agent.on("reprovisioned", (c: DeviceConnection) => resolve(c));
      agent.on("error", reject);
    });
    agent.attach(first);
    const oldKey = publicKeyFingerprint(creds["meter-r"]!.keyPem);
    await lateral("meter-r");
    second = await Promise.race([
      back,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`not re-provisioned: ${JSON.stringify(signals.seen)}`)), 10_000).unref(),
      ),
    ]);
    await waitFor(
      () => signals.of("incident.state_changed").some((s) => s.device === "meter-r" && s.to === "resolved"),
      8_000,
      "resolved",
    );
    const action = signals.of("response.action_taken").find((a) => a.device === "meter-r" && a.action === "reprovision");
    assert.equal(action?.outcome, "done");
    assert.match(action.detail, /delivered and acknowledged/);
    assert.doesNotMatch(JSON.stringify(signals.seen), /vet1\./, "the token never reaches a signal");
    const now = await loadCredentials(deviceDir);
    assert.notEqual(publicKeyFingerprint(now.keyPem), oldKey, "a new key pair");
    assert.ok(second.connected);
    const inc = await incidentOf("meter-r");
    assert.deepEqual(
      inc.timeline.filter((e) => e.kind === "state").map((e) => (e.data as { to: string }).to),
      ["open", "contained", "recovering", "resolved"],
    );
    // The old key's certificate is refused at the gateway.
    await assert.rejects(connectDevice(t.platform.gateway.url, creds["meter-r"]!));
  } finally {
    signals.stop();
    await first?.close().catch(() => undefined);
    await second?.close().catch(() => undefined);
  }
});

test("an operator rolls a mitigation back with the CLI; a second release is refused and changes nothing", async () => {
  const signals = recordSignals(t.platform, ["response.action_taken"]);
  try {
    await lateral("cam-r");
    await waitFor(
      () => signals.of("response.action_taken").some((a) => a.device === "cam-r" && a.action === "quarantine"),
      8_000,
      "quarantine",
    );
    const inc = await incidentOf("cam-r");
    assert.equal(inc.mitigation?.releaseOn, "reattestation");
    assert.equal(t.platform.response.floor("cam-r", "trusted"), "quarantine");
    const xdg = join(dir.path, "xdg");
    await saveToken(
      t.platform.url,
      { token: t.admin.token!, operator: "admin", expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
      credentialsFile({ XDG_CONFIG_HOME: xdg }),
    );
    const caFile = join(dir.path, "ca.pem");
    writeFileSync(caFile, t.platform.ca);
    const out = await runCli(["--server", t.platform.url, "--ca-file", caFile, "incidents", "release", inc.id], {
      env: { ...cleanEnv(), XDG_CONFIG_HOME: xdg },
    });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(t.platform.response.floor("cam-r", "trusted"), "trusted");
    const after = await incidentOf("cam-r");
    assert.equal(after.mitigation, null);
    assert.ok(after.timeline.some((e) => e.ref === "release" && e.summary.includes("released by an operator")));
    // Releasing twice: a clear error, the incident unchanged.
    await assert.rejects(callApi(t.admin, "POST", `/api/v1/incidents/${inc.id}/release`), {
      code: "INCIDENT_TRANSITION_INVALID",
    });
    assert.equal((await incidentOf("cam-r")).state, after.state);
  } finally {
    signals.stop();
  }
});

test("an operator rolls a revocation back (API readmit): the device may come back only through the door", async () => {
  const signals = recordSignals(t.platform, ["response.action_taken", "incident.state_changed"]);
  try {
    await lateral("veh-r");
    await waitFor(
      () => signals.of("response.action_taken").some((a) => a.device === "veh-r" && a.action === "revoke"),
      8_000,
      "revoke",
    );
    const inc = await incidentOf("veh-r");
    const tokenFor = async () =>
      (
        await t.platform.enrollment.createTokens({
          profile: "vehicle-telematics",
          deviceId: "veh-r",
          ttlSeconds: 600,
          count: 1,
          by: "test",
        })
      ).tokens[0]!;
    // Revoked for good until an operator says otherwise.
    await assert.rejects(
      reprovision({ server: t.platform.url, dir: join(dir.path, "veh-r"), token: await tokenFor() }),
      (e: unknown) => e instanceof DeviceSdkError && e.serverCode === "DEVICE_REVOKED",
    );
    assert.equal(existsSync(join(dir.path, "veh-r", "device.key")), true, "the refused attempt kept the device's key file");
    // Readmit on an incident holding no revocation: refused, nothing changed.
    const cam = await incidentOf("cam-r");
    await assert.rejects(callApi(t.admin, "POST", `/api/v1/incidents/${cam.id}/readmit`), {
      code: "INCIDENT_TRANSITION_INVALID",
    });
    assert.equal((await incidentOf("cam-r")).mitigation, cam.mitigation);

    const readmitted = await callApi<{ mitigation: { releaseOn: string } | null }>(
      t.admin,
      "POST",
      `/api/v1/incidents/${inc.id}/readmit`,
    );
    assert.equal(readmitted.data.mitigation?.releaseOn, "reattestation");
    await reprovision({ server: t.platform.url, dir: join(dir.path, "veh-r"), token: await tokenFor() });
    assert.equal((await incidentOf("veh-r")).state, "recovering");
    const client = await connectDevice(t.platform.gateway.url, await loadCredentials(join(dir.path, "veh-r")));
    try {
      await waitFor(
        () => signals.of("incident.state_changed").some((s) => s.device === "veh-r" && s.to === "resolved"),
        5_000,
        "resolved",
      );
    } finally {
      client.end(true);
    }
  } finally {
    signals.stop();
  }
});
