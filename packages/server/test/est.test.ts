import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { ManualClock } from "../src/core/index.js";
import { callApi } from "../src/cli/client.js";
import { errorCode, estPost, exec, opensslCsr, opensslCsrForKey, opensslFactory } from "./est-support.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";

let t: TestPlatform;
const clock = new ManualClock(Date.now());
const work = tempDir("vigil-est-");
const signals: { name: string; payload: unknown }[] = [];

before(async () => {
  t = await startPlatform({ clock });
  t.platform.bus.onAny((name, payload) => signals.push({ name, payload }));
  writeFileSync(join(work.path, "root.pem"), t.platform.ca);
});
after(async () => {
  await t.stop();
  work.remove();
});

async function token(profile = "smart-meter", extra: Record<string, unknown> = {}): Promise<string> {
  const { data } = await callApi<{ tokens: string[] }>(t.admin, "POST", "/api/v1/enrollment-tokens", { profile, ...extra });
  return data.tokens[0]!;
}

async function deviceRows(id: string): Promise<{ devices: number; certs: number }> {
  const db = new Database(join(t.dir, "data", "vigil.db"), { readonly: true });
  try {
    const devices = (db.prepare("SELECT COUNT(*) AS n FROM devices WHERE id = ?").get(id) as { n: number }).n;
    const certs = (db.prepare("SELECT COUNT(*) AS n FROM certificates WHERE device_id = ?").get(id) as { n: number }).n;
    return { devices, certs };
  } finally {
    db.close();
  }
}

/** Decodes an EST certs-only answer (base64 PKCS#7) with openssl into PEM certificates. */
async function p7ToPem(base64: string, name: string): Promise<string> {
  const der = join(work.path, `${name}.p7`);
  writeFileSync(der, Buffer.from(base64, "base64"));
  const out = join(work.path, `${name}.pem`);
  await exec("openssl", ["pkcs7", "-inform", "DER", "-in", der, "-print_certs", "-out", out]);
  return out;
}

test("EST with real clients: openssl builds the CSR, curl enrolls with a claim token, openssl verifies the chain", async () => {
  const claim = await token("smart-meter");
  const csr = await opensslCsr(work.path, "meter-1", "meter-1");
  const b64 = join(work.path, "meter-1.csr.b64");
  writeFileSync(b64, csr.body);
  const root = join(work.path, "root.pem");
  const out = join(work.path, "meter-1.resp");
  const posture = Buffer.from(JSON.stringify({ firmwareVersion: "2.4.1", sbomRef: "urn:sbom:meter:2.4.1" })).toString(
    "base64url",
  );
  const curl = await exec("curl", [
    "-sS",
    "-o",
    out,
    "-w",
    "%{http_code} %{content_type}",
    "--cacert",
    root,
    "-u",
    `meter-1:${claim}`,
    "-H",
    "Content-Type: application/pkcs10",
    "-H",
    `Vigil-Posture: ${posture}`,
    "--data-binary",
    `@${b64}`,
    `${t.platform.url}/.well-known/est/simpleenroll`,
  ]);
  assert.equal(curl.stdout, "200 application/pkcs7-mime; smime-type=certs-only");
  const certPem = await p7ToPem(readFileSync(out, "utf8"), "meter-1-cert");

  const cacerts = join(work.path, "cacerts.resp");
  await exec("curl", ["-sS", "-o", cacerts, "--cacert", root, `${t.platform.url}/.well-known/est/cacerts`]);
  const chain = await p7ToPem(readFileSync(cacerts, "utf8"), "cacerts");
  const verify = await exec("openssl", ["verify", "-CAfile", root, "-untrusted", chain, certPem]);
  assert.match(verify.stdout, /: OK/);

  const text = (await exec("openssl", ["x509", "-in", certPem, "-noout", "-text"])).stdout;
  assert.match(text, /Subject: CN ?= ?meter-1/);
  assert.match(text, /URI:urn:vigil:device:meter-1/);
  assert.match(text, /TLS Web Client Authentication/);
  assert.match(text, /CA:FALSE/);
  const days =
    (Date.parse((await exec("openssl", ["x509", "-in", certPem, "-noout", "-enddate"])).stdout.split("=")[1]!) - Date.now()) /
    86_400_000;
  assert.ok(days > 29 && days <= 30.01, `30-day validity, got ${days}`);
  // The private key never left: the certificate carries the CSR's public key.
  const pubFromKey = (await exec("openssl", ["pkey", "-in", csr.key, "-pubout"])).stdout;
  const pubFromCert = (await exec("openssl", ["x509", "-in", certPem, "-noout", "-pubkey"])).stdout;
  assert.equal(pubFromCert, pubFromKey);

  const { data } = await callApi<{
    state: string;
    attestationMethod: string;
    attestationStrength: number;
    firmwareVersion: string;
    profile: string;
    certificate: { status: string };
  }>(t.admin, "GET", "/api/v1/devices/meter-1");
  assert.deepEqual(
    [data.state, data.attestationMethod, data.profile, data.firmwareVersion, data.certificate.status],
    ["active", "claim-token", "smart-meter", "2.4.1", "valid"],
  );
  const completed = signals.find(
    (s) => s.name === "enrollment.completed" && (s.payload as { device: string }).device === "meter-1",
  );
  assert.ok(completed, "enrollment.completed emitted for scanning and scoring");
  assert.equal((completed.payload as { sbomRef: string }).sbomRef, "urn:sbom:meter:2.4.1");

  // The same token a second time: refused, raised as a security signal, nothing created.
  const again = await opensslCsr(work.path, "meter-2", "meter-2");
  const replay = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", again.body, {
    auth: `meter-2:${claim}`,
  });
  assert.equal(replay.status, 401);
  assert.equal(errorCode(replay), "ENROLLMENT_TOKEN_REPLAYED");
  assert.ok(signals.some((s) => s.name === "enrollment.token_replayed"));
  assert.deepEqual(await deviceRows("meter-2"), { devices: 0, certs: 0 });

  // Renewal with the current certificate over mutual TLS (curl --cert), same subject.
  const renewCsr = await opensslCsrForKey(work.path, "meter-1-renew", "meter-1", csr.key);
  const renewB64 = join(work.path, "meter-1-renew.b64");
  writeFileSync(renewB64, renewCsr.body);
  const renewOut = join(work.path, "meter-1-renew.resp");
  const renewed = await exec("curl", [
    "-sS",
    "-o",
    renewOut,
    "-w",
    "%{http_code}",
    "--cacert",
    root,
    "--cert",
    certPem,
    "--key",
    csr.key,
    "-H",
    "Content-Type: application/pkcs10",
    "--data-binary",
    `@${renewB64}`,
    `${t.platform.url}/.well-known/est/simplereenroll`,
  ]);
  assert.equal(renewed.stdout, "200");
  const renewedPem = await p7ToPem(readFileSync(renewOut, "utf8"), "meter-1-renewed");
  assert.match((await exec("openssl", ["verify", "-CAfile", root, "-untrusted", chain, renewedPem])).stdout, /: OK/);
  assert.equal((await deviceRows("meter-1")).certs, 2);

  // Revocation: the CRL lists it, openssl's CRL check refuses it, and renewal is refused.
  const revoked = await callApi<{ revokedSerials: string[] }>(t.admin, "POST", "/api/v1/devices/meter-1/revoke", {
    reason: "keyCompromise",
  });
  assert.equal(revoked.data.revokedSerials.length, 2);
  assert.ok(signals.some((s) => s.name === "identity.revoked"));
  const crlFile = join(work.path, "crl.der");
  await exec("curl", ["-sS", "-o", crlFile, "--cacert", root, `${t.platform.url}/pki/crl`]);
  const crlText = (await exec("openssl", ["crl", "-inform", "DER", "-in", crlFile, "-noout", "-text"])).stdout;
  for (const serial of revoked.data.revokedSerials) assert.match(crlText, new RegExp(serial, "i"));
  assert.match(crlText, /Key Compromise/);
  const crlPem = join(work.path, "crl.pem");
  await exec("openssl", ["crl", "-inform", "DER", "-in", crlFile, "-out", crlPem]);
  const checked = await exec("openssl", [
    "verify",
    "-crl_check",
    "-CAfile",
    root,
    "-untrusted",
    chain,
    "-CRLfile",
    crlPem,
    certPem,
  ]).catch((e: { stdout: string; stderr: string }) => e);
  assert.match(`${checked.stdout}${checked.stderr}`, /certificate revoked/);
  const afterRevoke = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simplereenroll", renewCsr.body, {
    cert: renewedPem,
    key: csr.key,
  });
  assert.equal(afterRevoke.status, 401);
  assert.equal(errorCode(afterRevoke), "IDENTITY_CERT_REVOKED");
});

test("csrattrs and cacerts answer with RFC 7030 content types", async () => {
  const attrs = await exec("curl", [
    "-sS",
    "-D",
    "-",
    "--cacert",
    join(work.path, "root.pem"),
    `${t.platform.url}/.well-known/est/csrattrs`,
  ]);
  assert.match(attrs.stdout, /content-type: application\/csrattrs/i);
  const body = attrs.stdout.split("\r\n\r\n")[1]!;
  const parsed = await exec("bash", ["-c", `echo '${body.trim()}' | base64 -d | openssl asn1parse -inform DER`]);
  assert.match(parsed.stdout, /ecdsa-with-SHA256/);
  assert.match(parsed.stdout, /prime256v1/);
});

test("manufacturer certificate attestation over mutual TLS; unknown, revoked and off-allowlist factories are refused", async () => {
  clock.set(Date.now() + 60_000); // factory certificates made just now must already be valid
  const acme = await opensslFactory(work.path, "acme", "pump-77");
  const rogue = await opensslFactory(work.path, "rogue", "pump-66");
  const unknown = await opensslCsr(work.path, "pump-66", "pump-66");
  const refused = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", unknown.body, {
    cert: rogue.devPem,
    key: rogue.devKey,
  });
  assert.equal(refused.status, 403);
  assert.equal(errorCode(refused), "ENROLLMENT_MANUFACTURER_UNKNOWN");
  assert.deepEqual(await deviceRows("pump-66"), { devices: 0, certs: 0 });

  const added = await callApi<{ id: string }>(t.admin, "POST", "/api/v1/manufacturers", {
    name: "Acme Medical",
    caPem: readFileSync(acme.caPem, "utf8"),
    serialAllowlist: ["00ff"],
  });
  const csr = await opensslCsr(work.path, "pump-77", "pump-77");
  const offList = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", csr.body, {
    cert: acme.devPem,
    key: acme.devKey,
  });
  assert.equal(errorCode(offList), "ENROLLMENT_SERIAL_NOT_ALLOWED");
  await callApi(t.admin, "POST", `/api/v1/manufacturers/${added.data.id}/revoke`);

  const second = await callApi<{ id: string }>(t.admin, "POST", "/api/v1/manufacturers", {
    name: "Acme Medical 2",
    caPem: readFileSync(rogue.caPem, "utf8"),
  });
  const revokedFactory = await opensslCsr(work.path, "pump-78", "pump-78");
  const viaRevoked = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", revokedFactory.body, {
    cert: acme.devPem,
    key: acme.devKey,
  });
  assert.equal(viaRevoked.status, 403);
  assert.equal(errorCode(viaRevoked), "ENROLLMENT_MANUFACTURER_REVOKED");
  assert.deepEqual(await deviceRows("pump-78"), { devices: 0, certs: 0 });

  const ok = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", unknown.body, {
    cert: rogue.devPem,
    key: rogue.devKey,
    headers: { "vigil-posture": Buffer.from(JSON.stringify({ profile: "infusion-pump" })).toString("base64url") },
  });
  assert.equal(ok.status, 200, ok.text);
  const { data } = await callApi<{
    attestationMethod: string;
    attestationStrength: number;
    manufacturerId: string;
    profile: string;
  }>(t.admin, "GET", "/api/v1/devices/pump-66");
  assert.deepEqual(
    [data.attestationMethod, data.attestationStrength, data.manufacturerId, data.profile],
    ["manufacturer-certificate", 90, second.data.id, "infusion-pump"],
  );

  // One factory identity, one device: the same IDevID cannot enroll a second device id.
  const clone = await opensslCsr(work.path, "pump-67", "pump-67");
  const cloned = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", clone.body, {
    cert: rogue.devPem,
    key: rogue.devKey,
  });
  assert.equal(cloned.status, 409);
  assert.equal(errorCode(cloned), "ENROLLMENT_FACTORY_CERT_REUSED");
  assert.ok(
    signals.some((s) => s.name === "identity.cloned_suspected" && (s.payload as { device: string }).device === "pump-67"),
  );
  assert.deepEqual(await deviceRows("pump-67"), { devices: 0, certs: 0 });
});

test("pre-registration: only a CSR with the registered key enrolls, with no other credential", async () => {
  const good = await opensslCsr(work.path, "cam-9", "cam-9");
  const fingerprint = (
    await exec("bash", ["-c", `openssl pkey -in ${good.key} -pubout -outform DER | sha256sum | cut -d' ' -f1`])
  ).stdout.trim();
  const imported = await callApi<{ imported: number }>(t.admin, "POST", "/api/v1/devices/import", {
    csv: `device_id,public_key_sha256,profile\ncam-9,${fingerprint},ip-camera\n`,
  });
  assert.equal(imported.data.imported, 1);
  const impostor = await opensslCsr(work.path, "cam-9-impostor", "cam-9");
  const refused = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", impostor.body);
  assert.equal(refused.status, 403);
  assert.equal(errorCode(refused), "ENROLLMENT_KEY_NOT_REGISTERED");
  const pending = await callApi<{ state: string; certificate: unknown }>(t.admin, "GET", "/api/v1/devices/cam-9");
  assert.deepEqual([pending.data.state, pending.data.certificate], ["pending", null]);
  const accepted = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", good.body);
  assert.equal(accepted.status, 200, accepted.text);
  const { data } = await callApi<{ state: string; attestationMethod: string; profile: string }>(
    t.admin,
    "GET",
    "/api/v1/devices/cam-9",
  );
  assert.deepEqual([data.state, data.attestationMethod, data.profile], ["active", "pre-registered-key", "ip-camera"]);
  const badCsv = await callApi(t.admin, "POST", "/api/v1/devices/import", { csv: "ok-1,aa\nbad id!,00\n" }).catch(
    (e: unknown) => e as { code: string; message: string },
  );
  assert.equal((badCsv as { code: string }).code, "ENROLLMENT_PREREGISTRATION_INVALID");
  assert.match((badCsv as { message: string }).message, /line 1.*\n.*line 2/s);
  assert.deepEqual(await deviceRows("ok-1"), { devices: 0, certs: 0 });
});

test("bad input leaves no device row and no certificate, each with its own error", async () => {
  const enroll = (body: string | Buffer, auth?: string, extra: { contentType?: string } = {}) =>
    estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", body, { ...(auth ? { auth } : {}), ...extra });
  const claim = await token("environmental-sensor");
  const valid = await opensslCsr(work.path, "bad-0", "bad-0");

  const cases: [string, Promise<Awaited<ReturnType<typeof enroll>>>, number, string][] = [
    ["not base64", enroll("%%% not base64 %%%", `x:${claim}`), 400, "ENROLLMENT_CSR_ENCODING"],
    ["empty", enroll("", `x:${claim}`), 400, "ENROLLMENT_CSR_ENCODING"],
    [
      "base64 of garbage DER",
      enroll(Buffer.from("garbage that is not DER at all").toString("base64"), `x:${claim}`),
      400,
      "ENROLLMENT_CSR_INVALID",
    ],
    ["no attestation at all", enroll(valid.body), 401, "ENROLLMENT_AUTH_REQUIRED"],
    ["unknown token", enroll(valid.body, `bad-0:vet1.et_AAAAAAAAAAAAAAAA.${"A".repeat(43)}`), 401, "ENROLLMENT_TOKEN_INVALID"],
    ["malformed token", enroll(valid.body, "bad-0:letmein"), 401, "ENROLLMENT_TOKEN_INVALID"],
    [
      "wrong content type",
      enroll(valid.body, `bad-0:${claim}`, { contentType: "text/plain" }),
      415,
      "REQUEST_UNSUPPORTED_MEDIA_TYPE",
    ],
    ["over 64 KiB", enroll("A".repeat(70 * 1024), `bad-0:${claim}`), 413, "REQUEST_TOO_LARGE"],
  ];
  for (const [what, pending, status, code] of cases) {
    const response = await pending;
    assert.equal(response.status, status, `${what}: ${response.text}`);
    assert.equal(errorCode(response), code, what);
  }
  const noAuth = await enroll(valid.body);
  assert.match(String(noAuth.headers["www-authenticate"]), /^Basic /);

  // A CSR whose signature does not verify: flip a bit in the signature (the last bytes).
  const der = readFileSync(valid.der);
  der[der.length - 2] = (der[der.length - 2] ?? 0) ^ 0x01;
  const tampered = await enroll(der.toString("base64"), `bad-0:${claim}`);
  assert.equal(errorCode(tampered), "ENROLLMENT_CSR_SIGNATURE");

  for (const [name, args] of [
    ["rsa1024", ["-newkey", "rsa:1024"]],
    ["secp256k1", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"]],
    ["ed25519", ["-newkey", "ed25519"]],
  ] as const) {
    const weak = await opensslCsr(work.path, `weak-${name}`, `weak-${name}`, [...args]);
    const response = await enroll(weak.body, `x:${claim}`);
    assert.equal(
      errorCode(response),
      name === "ed25519" ? "ENROLLMENT_KEY_WEAK" : "ENROLLMENT_KEY_WEAK",
      `${name}: ${response.text}`,
    );
    assert.deepEqual(await deviceRows(`weak-${name}`), { devices: 0, certs: 0 });
  }
  const rsa2048 = await opensslCsr(work.path, "rsa-ok", "rsa-ok", ["-newkey", "rsa:2048"]);
  assert.equal((await enroll(rsa2048.body, `rsa-ok:${claim}`)).status, 200);

  const bound = await token("plc", { deviceId: "plc-1" });
  const other = await opensslCsr(work.path, "plc-2", "plc-2");
  const mismatch = await enroll(other.body, `plc-2:${bound}`);
  assert.equal(errorCode(mismatch), "ENROLLMENT_SUBJECT_MISMATCH");

  const badSubject = await opensslCsr(work.path, "bad-subject", "has spaces and *stars*");
  assert.equal(errorCode(await enroll(badSubject.body, `x:${bound}`)), "ENROLLMENT_SUBJECT_INVALID");

  const badPosture = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", other.body, {
    auth: `plc-2:${await token("plc")}`,
    headers: { "vigil-posture": "!!!" },
  });
  assert.equal(errorCode(badPosture), "ENROLLMENT_POSTURE_INVALID");

  const shortLived = await token("plc", { ttlSeconds: 60 });
  clock.advance(61_000);
  assert.equal(errorCode(await enroll(other.body, `plc-2:${shortLived}`)), "ENROLLMENT_TOKEN_EXPIRED");

  for (const id of ["bad-0", "plc-1", "plc-2", "has spaces and *stars*"])
    assert.deepEqual(await deviceRows(id), { devices: 0, certs: 0 }, id);
  // A refused enrollment consumes nothing: the bound token is still unused, the one rsa-ok used is spent.
  const { data } = await callApi<{ items: { id: string; usedAt: string | null; usedByDevice: string | null }[] }>(
    t.admin,
    "GET",
    "/api/v1/enrollment-tokens?includeUsed=true",
  );
  const byId = new Map(data.items.map((i) => [i.id, i]));
  assert.equal(byId.get(bound.split(".")[1]!)?.usedAt, null);
  assert.equal(byId.get(claim.split(".")[1]!)?.usedByDevice, "rsa-ok");
});

test("renewal with an expired certificate is refused (IDENTITY_CERT_EXPIRED)", async () => {
  const csr = await opensslCsr(work.path, "old-1", "old-1");
  const response = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", csr.body, {
    auth: `old-1:${await token("smart-meter")}`,
  });
  assert.equal(response.status, 200, response.text);
  const pem = await p7ToPem(response.text, "old-1");
  clock.advance(31 * 86_400_000);
  try {
    const renew = await opensslCsrForKey(work.path, "old-1-renew", "old-1", csr.key);
    const refused = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simplereenroll", renew.body, {
      cert: pem,
      key: csr.key,
    });
    assert.equal(refused.status, 401);
    assert.equal(errorCode(refused), "IDENTITY_CERT_EXPIRED");
    assert.equal((await deviceRows("old-1")).certs, 1);
  } finally {
    clock.advance(-31 * 86_400_000);
  }
});

test("a failure between signing and storing returns no certificate and leaves no trace (token unused, no device, no certificate)", async () => {
  const claim = await token("smart-meter");
  // A real fault inside the database: the certificate INSERT fails after the token was
  // consumed and the device row written, in the same transaction.
  const db = new Database(join(t.dir, "data", "vigil.db"));
  db.exec("CREATE TRIGGER fail_cert BEFORE INSERT ON certificates BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END;");
  try {
    const csr = await opensslCsr(work.path, "crash-1", "crash-1");
    const response = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", csr.body, {
      auth: `crash-1:${claim}`,
    });
    assert.equal(response.status, 500);
    assert.equal(errorCode(response), "INTERNAL");
    assert.doesNotMatch(response.text, /BEGIN CERTIFICATE|MII/);
    assert.deepEqual(await deviceRows("crash-1"), { devices: 0, certs: 0 });
  } finally {
    db.exec("DROP TRIGGER fail_cert");
    db.close();
  }
  const csr = await opensslCsr(work.path, "crash-1b", "crash-1");
  const retry = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", csr.body, {
    auth: `crash-1:${claim}`,
  });
  assert.equal(retry.status, 200, "the token was not consumed by the failed attempt");
});
