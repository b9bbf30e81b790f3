import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Platform, createRootLogger, loadConfig } from "@vigil/server";
import { opensslFactory } from "../../server/test/est-support.js";
import {
  CertificateRenewer,
  DeviceSdkError,
  enroll,
  ensureDeviceKey,
  loadCredentials,
  publicKeyFingerprint,
  renew,
} from "../src/index.js";

let platform: Platform;
const dir = mkdtempSync(join(tmpdir(), "vigil-sdk-enroll-"));

before(async () => {
  const config = await loadConfig({ env: {}, cwd: dir, flags: { "data-dir": join(dir, "data"), "http-port": "0" } });
  platform = new Platform({ config, log: createRootLogger({ level: "silent" }), processMetrics: false });
  await platform.start();
});
after(async () => {
  await platform.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function claimToken(profile: string): Promise<string> {
  return (await platform.enrollment.createTokens({ profile, ttlSeconds: 600, count: 1, by: "test" })).tokens[0]!;
}

test("enroll with a claim token: key generated on the device (0600), certificate stored, private key never reaches the server", async () => {
  const deviceDir = join(dir, "dev-a");
  const creds = await enroll({
    server: platform.url,
    caPem: platform.ca,
    deviceId: "sensor-a",
    dir: deviceDir,
    attestation: { kind: "claim-token", token: await claimToken("environmental-sensor") },
    posture: { firmwareVersion: "1.0.3" },
  });
  assert.equal(creds.deviceId, "sensor-a");
  assert.equal(statSync(join(deviceDir, "device.key")).mode & 0o777, 0o600);
  const loaded = await loadCredentials(deviceDir);
  assert.equal(loaded.serial, creds.serial);
  const stored = await platform.store.certificates.get(creds.serial);
  assert.equal(stored?.deviceId, "sensor-a");
  // Nothing the server keeps contains the device's private key.
  const keyBody = creds.keyPem.replace(/-----[^-]+-----|\s/g, "");
  for (const file of readdirSync(join(dir, "data"), { recursive: true }) as string[]) {
    const path = join(dir, "data", file);
    if (statSync(path).isFile())
      assert.ok(!readFileSync(path).toString("latin1").includes(keyBody.slice(20, 80)), `${file} holds the device key`);
  }
  const device = await platform.store.devices.get(creds.deviceId as never);
  assert.equal(device?.firmwareVersion, "1.0.3");

  // A second enrollment with the same token is refused, and the SDK says why.
  await assert.rejects(
    enroll({
      server: platform.url,
      caPem: platform.ca,
      deviceId: "sensor-b",
      dir: join(dir, "dev-b"),
      attestation: { kind: "claim-token", token: "vet1.et_AAAAAAAAAAAAAAAA." + "A".repeat(43) },
    }),
    (e: unknown) =>
      e instanceof DeviceSdkError && e.code === "SDK_ENROLLMENT_REFUSED" && e.serverCode === "ENROLLMENT_TOKEN_INVALID",
  );

  // Renewal keeps the key and subject, authenticated by the current certificate.
  const renewed = await renew(platform.url, deviceDir);
  assert.notEqual(renewed.serial, creds.serial);
  assert.equal(renewed.keyPem, creds.keyPem);
  assert.equal((await platform.store.certificates.listForDevice("sensor-a" as never)).length, 2);
});

test("enroll with a pre-registered key, and with a factory certificate", async () => {
  const preDir = join(dir, "dev-pre");
  const key = await ensureDeviceKey(preDir);
  await platform.enrollment.preregister(`meter-pre,${publicKeyFingerprint(key)},smart-meter\n`, "test");
  const pre = await enroll({
    server: platform.url,
    caPem: platform.ca,
    deviceId: "meter-pre",
    dir: preDir,
    attestation: { kind: "pre-registered" },
  });
  assert.equal((await platform.store.devices.get(pre.deviceId as never))?.attestationMethod, "pre-registered-key");

  const factory = await opensslFactory(dir, "sdk-maker", "pump-sdk");
  await platform.enrollment.addManufacturer({ name: "SDK Maker", caPem: readFileSync(factory.caPem, "utf8"), by: "test" });
  // Factory certificates made a moment ago: give the clock a second so they are valid.
  await new Promise((r) => setTimeout(r, 1100));
  const viaFactory = await enroll({
    server: platform.url,
    caPem: platform.ca,
    deviceId: "pump-sdk",
    dir: join(dir, "dev-factory"),
    attestation: {
      kind: "manufacturer",
      certPem: readFileSync(factory.devPem, "utf8"),
      keyPem: readFileSync(factory.devKey, "utf8"),
    },
  });
  assert.equal((await platform.store.devices.get(viaFactory.deviceId as never))?.attestationMethod, "manufacturer-certificate");
});

test("the renewer is due at two thirds of the lifetime and renews on its own", async () => {
  const due = CertificateRenewer.dueAt({ notBefore: new Date(0), notAfter: new Date(30 * 86_400_000) });
  assert.equal(due, 20 * 86_400_000);
  const deviceDir = join(dir, "dev-renew");
  const first = await enroll({
    server: platform.url,
    caPem: platform.ca,
    deviceId: "renew-me",
    dir: deviceDir,
    attestation: { kind: "claim-token", token: await claimToken("plc") },
  });
  const renewed = await new Promise<string>((resolve, reject) => {
    // A clock 25 days ahead: the renewal is overdue, so it runs at once.
    const renewer = new CertificateRenewer({
      server: platform.url,
      dir: deviceDir,
      now: () => Date.now() + 25 * 86_400_000,
      onRenewed: (c) => {
        renewer.stop();
        resolve(c.serial);
      },
      onError: reject,
    });
    void renewer.start();
  });
  assert.notEqual(renewed, first.serial);
  assert.equal((await loadCredentials(deviceDir)).serial, renewed);
});
