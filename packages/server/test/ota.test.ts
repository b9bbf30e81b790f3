import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { OtaMetadataBundle, type OtaSignedRoot, type OtaSignedTargets } from "@vigil/contract";
import { OtaAgent, OtaRefused, checkTargets, connect, updateRoot, type DeviceCredentials } from "../../device-sdk/src/index.js";
import { callApi } from "../src/cli/client.js";
import { generateOtaKeyPair, signOtaMetadata } from "../src/identity/index.js";
import { opensslFactory } from "./est-support.js";
import { recordSignals, waitFor } from "./gateway-support.js";
import {
  SimulatedSlots,
  addArtifact,
  cuttingRelay,
  enrollWithFirmware,
  firmwareImage,
  httpsGet,
  reportLog,
} from "./ota-support.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";

let t: TestPlatform;
const dir = tempDir("vigil-ota-");
const creds: Record<string, DeviceCredentials> = {};
const image = firmwareImage();

before(async () => {
  t = await startPlatform({ flags: { "ota-tick-ms": "50" } });
  await callApi(t.admin, "POST", "/api/v1/ota/keys", { algorithm: "ed25519" });
  for (const id of ["m-ok", "m-tamper", "m-sig", "m-expired", "m-down", "m-hw", "m-min", "m-cut", "m-part", "m-rot"]) {
    creds[id] = await enrollWithFirmware(t.platform, dir.path, id, "smart-meter");
  }
  creds["cam-1"] = await enrollWithFirmware(t.platform, dir.path, "cam-1", "ip-camera");
  await addArtifact(t.admin, image, { version: "1.1.0", profile: "smart-meter", hardware: "rev-a", counter: "1" });
});
after(async () => {
  await t.stop();
  dir.remove();
});

/** An agent for one enrolled device, reporting into a log. */
async function agentFor(id: string, extra: Partial<Parameters<typeof OtaAgent.open>[0]> = {}) {
  const slots = new SimulatedSlots(extra.currentVersion ?? "1.0.0");
  const log = reportLog();
  const agent = await OtaAgent.open({
    server: t.platform.url,
    dir: join(dir.path, id),
    profile: "smart-meter",
    hardware: "rev-a",
    currentVersion: "1.0.0",
    slots,
    report: log.report,
    ...extra,
  });
  return { agent, slots, log };
}

test("OTA metadata and images are served only over mutual TLS with a valid Vigil device certificate", async () => {
  const base = `${t.platform.url}/ota/v1`;
  const none = await httpsGet(`${base}/metadata`, { ca: t.platform.ca });
  assert.equal(none.status, 401);
  assert.equal(JSON.parse(none.body.toString()).error.code, "OTA_DEVICE_AUTH_REQUIRED");

  const foreign = await opensslFactory(dir.path, "evil", "m-ok");
  const forged = await httpsGet(`${base}/images/smart-meter-1.1.0`, {
    ca: t.platform.ca,
    cert: await readFile(foreign.devPem, "utf8"),
    key: await readFile(foreign.devKey, "utf8"),
  });
  assert.equal(forged.status, 401);
  assert.equal(JSON.parse(forged.body.toString()).error.code, "OTA_DEVICE_AUTH_REQUIRED");

  const device = { ca: t.platform.ca, cert: creds["m-ok"]!.certPem, key: creds["m-ok"]!.keyPem };
  const meta = await httpsGet(`${base}/metadata`, device);
  assert.equal(meta.status, 200);
  const bundle = OtaMetadataBundle.parse(JSON.parse(meta.body.toString()));
  assert.equal(bundle.roots.length, 1);
  assert.equal(bundle.targets.signed.targets["smart-meter-1.1.0"]?.length, image.length);

  // HTTP range requests (RFC 9110 §14): a part, a suffix, a stale If-Range, an unsatisfiable one.
  const part = await httpsGet(`${base}/images/smart-meter-1.1.0`, { ...device, headers: { range: "bytes=100-199" } });
  assert.equal(part.status, 206);
  assert.equal(part.headers["content-range"], `bytes 100-199/${image.length}`);
  assert.deepEqual(part.body, image.subarray(100, 200));
  const tail = await httpsGet(`${base}/images/smart-meter-1.1.0`, { ...device, headers: { range: "bytes=-10" } });
  assert.deepEqual(tail.body, image.subarray(image.length - 10));
  const stale = await httpsGet(`${base}/images/smart-meter-1.1.0`, {
    ...device,
    headers: { range: "bytes=0-9", "if-range": '"0000"' },
  });
  assert.equal(stale.status, 200);
  assert.equal(stale.body.length, image.length);
  const beyond = await httpsGet(`${base}/images/smart-meter-1.1.0`, { ...device, headers: { range: `bytes=${image.length}-` } });
  assert.equal(beyond.status, 416);
  assert.equal(JSON.parse(beyond.body.toString()).error.code, "OTA_RANGE_NOT_SATISFIABLE");

  // Another profile's device may not download it.
  const camera = await httpsGet(`${base}/images/smart-meter-1.1.0`, {
    ca: t.platform.ca,
    cert: creds["cam-1"]!.certPem,
    key: creds["cam-1"]!.keyPem,
  });
  assert.equal(camera.status, 403);
  assert.equal(JSON.parse(camera.body.toString()).error.code, "OTA_DEVICE_NOT_ELIGIBLE");
});

test("a device verifies the metadata chain, signature, hash and manifest before installing, and reports every state", async () => {
  const { agent, slots, log } = await agentFor("m-ok");
  const outcome = await agent.update("manual", "smart-meter-1.1.0", "1.1.0");
  assert.deepEqual(outcome, { ok: true, state: "installed", version: "1.1.0" });
  assert.deepEqual(log.states(), ["downloading", "verified", "installing", "installed"]);
  assert.equal(slots.running, "1.1.0");
  assert.equal(agent.version, "1.1.0");
  // Installing the same version again is a downgrade (nothing newer): refused, nothing written.
  const again = await agent.update("manual", "smart-meter-1.1.0");
  assert.equal(again.reason, "downgrade");
  assert.equal(slots.writes, 1);
});

/** Runs an update that must be refused: the device keeps its version and its slots untouched. */
async function refused(
  id: string,
  reason: string,
  extra: Partial<Parameters<typeof OtaAgent.open>[0]> = {},
  target = "smart-meter-1.1.0",
) {
  const { agent, slots, log } = await agentFor(id, extra);
  const before = agent.version;
  const outcome = await agent.update("manual", target);
  assert.equal(outcome.ok, false, `${id} should be refused`);
  assert.equal(outcome.reason, reason);
  assert.equal(agent.version, before);
  assert.equal(slots.writes, 0, "nothing was written to a slot");
  assert.equal(slots.running, before);
  assert.deepEqual(log.states(), ["downloading", "failed"]);
  assert.equal(log.reports.at(-1)?.reason, reason);
}

test("bad input: a tampered image is refused (hash), the device keeps its version", async () => {
  const artifact = await t.platform.updates.getArtifact("smart-meter-1.1.0");
  const file = t.platform.updates.imagePath(artifact);
  const original = await readFile(file);
  const tampered = Buffer.from(original);
  tampered[1000] = (tampered[1000] ?? 0) ^ 0xff;
  await writeFile(file, tampered);
  try {
    await refused("m-tamper", "hash_mismatch");
    assert.equal(
      existsSync(join(dir.path, "m-tamper", "ota", `${artifact.sha256}.part`)),
      false,
      "the bad download is discarded",
    );
  } finally {
    await writeFile(file, original);
  }
});

test("bad input: metadata signed by keys the device does not trust, or not signed at all, is refused", async () => {
  // A device provisioned with another repository's root: Vigil's targets signature does not verify.
  const attacker = generateOtaKeyPair("ed25519");
  const signed = {
    _type: "root" as const,
    spec_version: "1.0.0",
    version: 1,
    expires: "2099-01-01T00:00:00Z",
    keys: { [attacker.keyid]: { keytype: "ed25519" as const, public: attacker.publicKeyPem } },
    roles: { root: { keyids: [attacker.keyid], threshold: 1 }, targets: { keyids: [attacker.keyid], threshold: 1 } },
  };
  const attackerRoot: OtaSignedRoot = { signed, signatures: [signOtaMetadata(signed, attacker)] };
  await refused("m-sig", "signature_invalid", { trustedRoot: attackerRoot });

  const bundle = await deviceBundle("m-sig");
  const root = bundle.roots[0]!;
  const now = Date.now();
  assert.throws(() => checkTargets(root.signed, { ...bundle.targets, signatures: [] }, now, 0), refusal("signature_invalid"));
  // A signature over other bytes (a changed length) does not verify.
  const changed = structuredClone(bundle.targets);
  changed.signed.targets["smart-meter-1.1.0"]!.length += 1;
  assert.throws(() => checkTargets(root.signed, changed, now, 0), refusal("signature_invalid"));
  // A new root signed only by itself (not by the root the device trusts) is refused.
  const rogue = { ...signed, version: 2 };
  assert.throws(
    () => updateRoot(root, [{ signed: rogue, signatures: [signOtaMetadata(rogue, attacker)] }], now),
    refusal("signature_invalid"),
  );
});

test("bad input: expired metadata, a downgrade, wrong hardware, a missing minimum version are refused", async () => {
  await refused("m-expired", "metadata_expired", { now: () => Date.now() + 40 * 86_400_000 });
  await refused("m-down", "downgrade", { currentVersion: "2.0.0" });
  await refused("m-hw", "wrong_hardware", { hardware: "rev-b" });
  await addArtifact(t.admin, firmwareImage(4096), {
    version: "1.3.0",
    profile: "smart-meter",
    minVersion: "1.2.0",
    counter: "1",
  });
  await refused("m-min", "min_version", {}, "smart-meter-1.3.0");
  // An older targets version than one already accepted (a replayed, frozen view) is refused.
  const bundle = await deviceBundle("m-min");
  assert.throws(
    () => checkTargets(bundle.roots[0]!.signed, bundle.targets, Date.now(), bundle.targets.signed.version + 1),
    refusal("metadata_rollback"),
  );
});

test("bad input: an interrupted download resumes with a range request and installs", async () => {
  const api = new URL(t.platform.url);
  const relay = await cuttingRelay({ host: api.hostname, port: Number(api.port) }, 40_000, 1);
  try {
    const { agent, slots, log } = await agentFor("m-cut", { server: relay.url });
    const outcome = await agent.update("manual", "smart-meter-1.1.0");
    assert.equal(outcome.ok, true, JSON.stringify(log.reports));
    assert.equal(slots.running, "1.1.0");
    assert.ok(relay.connections() >= 2, "the cut connection (metadata and part of the image), then the resumed one");
    assert.ok(relay.bytesFromServer() < image.length * 1.4, `resumed, not restarted (${relay.bytesFromServer()} bytes relayed)`);
  } finally {
    await relay.close();
  }
  // A truncated partial file left by a power cut: the device asks only for the rest.
  const artifact = await t.platform.updates.getArtifact("smart-meter-1.1.0");
  await mkdir(join(dir.path, "m-part", "ota"), { recursive: true });
  await writeFile(join(dir.path, "m-part", "ota", `${artifact.sha256}.part`), image.subarray(0, 30_000));
  const relay2 = await cuttingRelay({ host: api.hostname, port: Number(api.port) }, Number.MAX_SAFE_INTEGER, 0);
  try {
    const { agent } = await agentFor("m-part", { server: relay2.url });
    assert.equal((await agent.update("manual", "smart-meter-1.1.0")).ok, true);
    assert.ok(relay2.bytesFromServer() < image.length, `only the missing bytes (${relay2.bytesFromServer()})`);
  } finally {
    await relay2.close();
  }
});

test("key rotation: devices follow the new root without re-provisioning; the revoked key's signatures are refused", async () => {
  const before = await deviceBundle("m-rot");
  const signals = recordSignals(t.platform, ["ota.keys_rotated"]);
  const rotated = await callApi<{ rootVersion: number; targetsKeyIds: string[] }>(t.admin, "POST", "/api/v1/ota/keys/rotate", {
    role: "targets",
  });
  const rotatedRoot = await callApi<{ rootVersion: number }>(t.admin, "POST", "/api/v1/ota/keys/rotate", {
    role: "root",
    algorithm: "ecdsa-p256",
  });
  assert.equal(rotatedRoot.data.rootVersion, rotated.data.rootVersion + 1);
  assert.equal(signals.of("ota.keys_rotated").length, 2);
  signals.stop();

  // The device was provisioned with root v1 and walks v2, v3.
  const { agent, slots } = await agentFor("m-rot", { trustedRoot: before.roots[0]! });
  assert.equal(agent.rootVersion, 1);
  const outcome = await agent.update("manual", "smart-meter-1.1.0");
  assert.equal(outcome.ok, true);
  assert.equal(slots.running, "1.1.0");
  assert.equal(agent.rootVersion, rotatedRoot.data.rootVersion);

  // Targets metadata signed by the revoked targets key no longer verifies against the new root.
  const after = await deviceBundle("m-rot");
  const newRoot = updateRoot(before.roots[0]!, after.roots, Date.now());
  const oldTargets: OtaSignedTargets = {
    ...before.targets,
    signed: { ...before.targets.signed, version: after.targets.signed.version + 1 },
  };
  assert.throws(() => checkTargets(newRoot.signed, before.targets, Date.now(), 0), refusal("signature_invalid"));
  assert.throws(() => checkTargets(newRoot.signed, oldTargets, Date.now(), 0), refusal("signature_invalid"));
});

test("end to end over MQTT: a wave fails on purpose, the campaign halts and rolls back, the rest stays untouched", async () => {
  const ids = Array.from({ length: 8 }, (_, i) => `sensor-${i}`);
  const devices = new Map<string, { slots: SimulatedSlots; agent: OtaAgent; close: () => Promise<void> }>();
  const failing = new Set<string>();
  await addArtifact(t.admin, firmwareImage(32 * 1024), { version: "2.0.0", profile: "environmental-sensor" });
  for (const id of ids) {
    creds[id] = await enrollWithFirmware(t.platform, dir.path, id, "environmental-sensor");
    const slots = new SimulatedSlots("1.0.0", () => !failing.has(id));
    const agent = await OtaAgent.open({
      server: t.platform.url,
      dir: join(dir.path, id),
      profile: "environmental-sensor",
      hardware: "sim",
      currentVersion: "1.0.0",
      slots,
    });
    const connection = await connect({ url: t.platform.gateway.url, dir: join(dir.path, id) });
    const detach = agent.attach(connection);
    devices.set(id, { slots, agent, close: async () => (detach(), await connection.close()) });
  }
  const signals = recordSignals(t.platform, [
    "campaign.halted",
    "campaign.rollback_started",
    "campaign.rolled_back",
    "ota.installed",
    "ota.rolled_back",
    "ota.failed",
  ]);
  try {
    const created = await callApi<{ id: string; waves: number; devices: number }>(t.admin, "POST", "/api/v1/ota/campaigns", {
      name: "sensors 2.0",
      artifact: "environmental-sensor-2.0.0",
      target: { profile: "environmental-sensor" },
      canaryPercent: 10,
      wavePercent: 25,
      failureThresholdPercent: 20,
    });
    assert.equal(created.data.devices, 8);
    assert.equal(created.data.waves, 5); // canary 1, then 2 + 2 + 2 + 1
    const plan = await callApi<{ items: { device: string; wave: number }[] }>(
      t.admin,
      "GET",
      `/api/v1/ota/campaigns/${created.data.id}/devices`,
    );
    const wave = (n: number) => plan.data.items.filter((d) => d.wave === n).map((d) => d.device);
    for (const id of wave(1)) failing.add(id); // the first wave after the canary fails its boot check
    await callApi(t.admin, "POST", `/api/v1/ota/campaigns/${created.data.id}/start`);

    const status = async () =>
      (
        await callApi<{ state: string; counts: Record<string, number> }>(
          t.admin,
          "GET",
          `/api/v1/ota/campaigns/${created.data.id}`,
        )
      ).data;
    let last = await status();
    for (let i = 0; i < 600 && last.state !== "rolled_back"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      last = await status();
    }
    assert.equal(
      last.state,
      "rolled_back",
      JSON.stringify(last) + t.logLines.filter((l) => l.includes("ota") || l.includes("campaign")).join("\n"),
    );
    assert.equal(signals.of("campaign.halted")[0]?.reason, "failures");
    assert.equal(signals.of("campaign.halted")[0]?.wave, 1);

    // The canary installed 2.0.0, then went back to 1.0.0; the failing wave never left 1.0.0 running.
    const canary = wave(0)[0]!;
    assert.ok(signals.of("ota.installed").some((s) => s.device === canary && s.version === "2.0.0"));
    await waitFor(() => devices.get(canary)!.slots.running === "1.0.0", 5_000, "canary rollback");
    for (const id of wave(1)) {
      assert.equal(devices.get(id)!.slots.running, "1.0.0", id);
      assert.ok(
        signals.of("ota.failed").some((s) => s.device === id && s.reason === "boot_check_failed"),
        id,
      );
    }
    // Waves 2-4 were never told: nothing written, still 1.0.0.
    for (const id of [...wave(2), ...wave(3), ...wave(4)]) {
      assert.equal(devices.get(id)!.slots.writes, 0, id);
      assert.equal(devices.get(id)!.agent.version, "1.0.0", id);
    }
    assert.equal(last.counts.pending, wave(2).length + wave(3).length + wave(4).length);
    // The store follows verified reports: the canary is back on 1.0.0.
    const record = await t.platform.store.devices.get(canary as never);
    assert.equal(record?.firmwareVersion, "1.0.0");
  } finally {
    signals.stop();
    for (const d of devices.values()) await d.close();
  }
});

async function deviceBundle(id: string): Promise<OtaMetadataBundle> {
  const res = await httpsGet(`${t.platform.url}/ota/v1/metadata`, {
    ca: t.platform.ca,
    cert: creds[id]!.certPem,
    key: creds[id]!.keyPem,
  });
  return OtaMetadataBundle.parse(JSON.parse(res.body.toString()));
}

function refusal(reason: string) {
  return (error: unknown) => error instanceof OtaRefused && error.reason === reason;
}
