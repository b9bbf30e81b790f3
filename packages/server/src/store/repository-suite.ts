import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import type { Scope } from "@vigil/contract";
import type { Advisory, FindingRecord, SbomRecord } from "../assessment/index.js";
import type { AuditEntry } from "../audit/index.js";
import { isVigilError, type DeviceId, type Millis, type OperatorId, type TokenId } from "../core/index.js";
import type { EnrollmentTokenRecord } from "../enrollment/index.js";
import {
  GENESIS_HASH,
  auditEntryHash,
  newDeviceRecord,
  type CertificateRecord,
  type DeviceRecord,
  type SealedBlob,
} from "../identity/index.js";
import type { CampaignRecord, CampaignTargetRecord } from "../ota/index.js";
import type { OperatorRecord } from "../operators/index.js";
import type { DeadLetter, Incident } from "../response/index.js";
import type { TrustRecord, TrustState } from "../trust/index.js";
import type { Store } from "./ports.js";

/**
 * One behaviour for every engine: the repository tests, registered against any store.
 * `open` gives an empty store of its own (a temp file, a fresh PostgreSQL database) or
 * undefined after skipping the test (engine absent); `exec` runs raw SQL on the same storage
 * (to check what the engine itself refuses); `reopen` closes the store and opens the same
 * storage again.
 */
export interface StoreHarness {
  readonly store: Store;
  exec(sql: string): Promise<void>;
  reopen(): Promise<Store>;
}

export type StoreFactory = (t: TestContext) => Promise<StoreHarness | undefined>;

const ms = (n: number) => n as Millis;
const dev = (id: string) => id as DeviceId;

function device(id: string, fields: Partial<DeviceRecord> = {}): DeviceRecord {
  return newDeviceRecord({ id: dev(id), profile: "sensor", createdAt: ms(1), ...fields });
}

function cert(serial: string, deviceId: string, fields: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    serial,
    deviceId: dev(deviceId),
    subject: `CN=${deviceId}`,
    notBefore: ms(1000),
    notAfter: ms(90_000),
    keySha256: `key-${serial}`,
    pem: `-----BEGIN CERTIFICATE-----\n${serial}\n-----END CERTIFICATE-----\n`,
    issuedAt: ms(1000),
    revokedAt: null,
    revocationReason: null,
    ...fields,
  };
}

function operator(id: string, username: string, fields: Partial<OperatorRecord> = {}): OperatorRecord {
  return {
    id: id as OperatorId,
    username,
    passwordHash: `$argon2id$${username}`,
    role: "admin",
    mustChangePassword: false,
    sites: ["*"],
    disabledAt: null,
    createdAt: ms(1),
    updatedAt: ms(1),
    ...fields,
  };
}

function enrollmentToken(id: string, fields: Partial<EnrollmentTokenRecord> = {}): EnrollmentTokenRecord {
  return {
    id,
    secretHash: `sha256-${id}`,
    profile: "sensor",
    deviceId: null,
    createdAt: ms(10),
    expiresAt: ms(1_000_000),
    usedAt: null,
    usedByDevice: null,
    createdBy: "admin",
    ...fields,
  };
}

function chain(from: number, n: number, prevHash: string): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (let seq = from; seq < from + n; seq++) {
    const e = {
      seq,
      at: ms(1000 + seq),
      actor: "admin",
      action: "device.registered",
      target: seq % 2 === 0 ? null : `d-${seq}`,
      outcome: "success",
      details: `{"device":"d-${seq}","note":"é ✓ \\u0000"}`,
      prevHash,
    };
    const hash = auditEntryHash(e);
    out.push({ ...e, hash });
    prevHash = hash;
  }
  return out;
}

const trustState = (firmware: string): TrustState =>
  ({
    v: 1,
    attestation: { method: "manufacturer", strength: 3 },
    keyType: "ec-p256",
    certificate: null,
    firmwareVersion: firmware,
    vulnerabilities: {},
  }) as unknown as TrustState;

/** Registers the suite; `engine` names the tests ("sqlite: devices ..."). */
export function repositorySuite(engine: string, open: StoreFactory): void {
  const it = (name: string, body: (h: StoreHarness) => Promise<void>): void =>
    void test(`${engine}: ${name}`, async (t) => {
      const h = await open(t);
      if (h === undefined) return;
      try {
        await body(h);
      } finally {
        await h.store.close();
      }
    });

  it("a new store is at its latest schema and empty; data survives a reopen", async (h) => {
    const version = await h.store.schemaVersion();
    assert.ok(version > 0);
    assert.equal(await h.store.devices.count(), 0);
    await h.store.devices.insert(device("kept", { firmwareVersion: "1.0.0", lastSeenAt: ms(1_700_000_000_123) }));
    const again = await h.reopen();
    try {
      assert.deepEqual(
        await again.devices.get(dev("kept")),
        device("kept", { firmwareVersion: "1.0.0", lastSeenAt: ms(1_700_000_000_123) }),
      );
      assert.equal(await again.schemaVersion(), version, "reopening applies no migration twice");
    } finally {
      await again.close();
    }
  });

  it("devices: insert/get round-trips every field; a duplicate is STORE_CONFLICT and the first stays", async ({ store }) => {
    const full = device("d1", {
      state: "active",
      firmwareVersion: "2.1.0",
      lastSeenAt: ms(1_700_000_000_000),
      attestationMethod: "manufacturer-certificate",
      attestationStrength: 3,
      keyType: "ec-p256",
      sbomRef: "urn:uuid:1",
      expectedKeySha256: "abc",
      manufacturerId: "m1",
      enrolledAt: ms(5),
      factoryCertSha256: "f1",
      site: "ward-3",
    });
    await store.devices.insert(full);
    assert.deepEqual(await store.devices.get(dev("d1")), full);
    assert.equal(await store.devices.get(dev("nope")), undefined);
    await assert.rejects(store.devices.insert(device("d1", { profile: "other" })), (e: unknown) =>
      isVigilError(e, "STORE_CONFLICT"),
    );
    assert.deepEqual(await store.devices.get(dev("d1")), full);
    assert.equal(await store.devices.count(), 1);
  });

  it("devices: insertMany is all or nothing", async ({ store }) => {
    await store.devices.insert(device("taken"));
    await assert.rejects(
      store.devices.insertMany([device("a1"), device("a2"), device("taken"), device("a3")]),
      (e: unknown) => isVigilError(e, "STORE_CONFLICT") && /taken/.test(e.message),
    );
    assert.equal(await store.devices.count(), 1);
    assert.equal(await store.devices.get(dev("a1")), undefined);
    await store.devices.insertMany([device("b1"), device("b2")]);
    assert.equal(await store.devices.count(), 3);
  });

  it("devices: pages in bytewise id order, filtered by state and sites; the cursor walks them all", async ({ store }) => {
    const ids = ["b", "B", "_x", "a-10", "a-9", "Z", "é", "a"];
    for (let i = 0; i < 25; i++) ids.push(`d-${String(i).padStart(2, "0")}`);
    await store.devices.insertMany(
      ids.map((id, i) => device(id, { state: i % 5 === 0 ? "active" : "pending", site: i % 2 === 0 ? "north" : "south" })),
    );
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await store.devices.list({ limit: 7, after });
      assert.ok(page.items.length <= 7);
      seen.push(...page.items.map((d) => d.id));
      if (page.next === null) break;
      after = page.next;
    }
    const bytewise = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(seen, bytewise);
    const active = await store.devices.list({ limit: 100, state: "active" });
    assert.deepEqual(
      active.items.map((d) => d.id),
      bytewise.filter((id) => ids.indexOf(id) % 5 === 0),
    );
    assert.equal(active.next, null);
    const north = await store.devices.list({ limit: 100, sites: ["north"] });
    assert.ok(north.items.every((d) => d.site === "north"));
    assert.equal(north.items.length, ids.filter((_, i) => i % 2 === 0).length);
    const northActive = await store.devices.list({ limit: 2, state: "active", sites: ["north", "elsewhere"] });
    assert.equal(northActive.items.length, 2);
    assert.ok(northActive.items.every((d) => d.site === "north" && d.state === "active"));
    assert.notEqual(northActive.next, null);
    assert.deepEqual((await store.devices.list({ limit: 10, sites: [] })).items, []);
  });

  it("devices: revoke revokes every live certificate and the device in one transaction", async ({ store }) => {
    await store.devices.insert(device("r1", { state: "active" }));
    await store.devices.insert(device("other", { state: "active" }));
    await store.enrollments.recordRenewal({ certificate: cert("s1", "r1"), at: ms(1) });
    await store.enrollments.recordRenewal({ certificate: cert("s2", "r1", { issuedAt: ms(2000) }), at: ms(2) });
    await store.enrollments.recordRenewal({
      certificate: cert("s0", "r1", { revokedAt: ms(500), revocationReason: "superseded" }),
      at: ms(3),
    });
    await store.enrollments.recordRenewal({ certificate: cert("o1", "other"), at: ms(4) });
    const serials = await store.devices.revoke(dev("r1"), ms(7000), "compromised");
    assert.deepEqual([...serials].sort(), ["s1", "s2"]);
    assert.equal((await store.devices.get(dev("r1")))?.state, "revoked");
    assert.equal((await store.certificates.get("s1"))?.revocationReason, "compromised");
    assert.equal((await store.certificates.get("s0"))?.revocationReason, "superseded", "an earlier revocation is kept");
    assert.equal((await store.certificates.get("s0"))?.revokedAt, 500);
    assert.equal((await store.certificates.get("o1"))?.revokedAt, null);
    assert.equal((await store.devices.get(dev("other")))?.state, "active");
    assert.deepEqual(await store.devices.revoke(dev("r1"), ms(8000), "again"), []);
  });

  it("certificates: per device newest first, latest per device, revoked and unexpired", async ({ store }) => {
    await store.devices.insertMany([device("c1"), device("c2"), device("c3")]);
    await store.enrollments.recordRenewal({ certificate: cert("x1", "c1", { issuedAt: ms(100) }), at: ms(1) });
    await store.enrollments.recordRenewal({ certificate: cert("x2", "c1", { issuedAt: ms(300) }), at: ms(1) });
    await store.enrollments.recordRenewal({ certificate: cert("x3", "c1", { issuedAt: ms(200) }), at: ms(1) });
    await store.enrollments.recordRenewal({ certificate: cert("y1", "c2", { issuedAt: ms(50) }), at: ms(1) });
    await store.enrollments.recordRenewal({
      certificate: cert("y2", "c2", {
        issuedAt: ms(60),
        revokedAt: ms(70),
        revocationReason: "key-compromise",
        notAfter: ms(10),
      }),
      at: ms(1),
    });
    await store.enrollments.recordRenewal({
      certificate: cert("y3", "c2", { issuedAt: ms(40), revokedAt: ms(80), revocationReason: "superseded" }),
      at: ms(1),
    });
    assert.deepEqual(
      (await store.certificates.listForDevice(dev("c1"))).map((c) => c.serial),
      ["x2", "x3", "x1"],
    );
    const latest = await store.certificates.latestForDevices([dev("c1"), dev("c2"), dev("c3")]);
    assert.deepEqual([...latest.entries()].map(([d, c]) => [d, c.serial]).sort(), [
      ["c1", "x2"],
      ["c2", "y2"],
    ]);
    assert.equal((await store.certificates.latestForDevices([])).size, 0);
    assert.deepEqual(
      (await store.certificates.listRevoked(ms(20))).map((c) => c.serial),
      ["y3"],
      "y2 expired at 10, so it is left out of the revocation list",
    );
    assert.deepEqual(await store.certificates.get("x1"), cert("x1", "c1", { issuedAt: ms(100) }));
  });

  it("manufacturers: unique name and CA, listed by creation, revoked once", async ({ store }) => {
    const m = {
      id: "m1",
      name: "Acme",
      caPem: "PEM",
      caSha256: "ca1",
      serialAllowlist: ["SN-1", "SN-2"],
      createdAt: ms(2),
      revokedAt: null,
    };
    await store.manufacturers.insert(m);
    await store.manufacturers.insert({ ...m, id: "m0", name: "Zeta", caSha256: "ca0", serialAllowlist: null, createdAt: ms(1) });
    await assert.rejects(store.manufacturers.insert({ ...m, id: "m2", caSha256: "ca2" }), (e: unknown) =>
      isVigilError(e, "STORE_CONFLICT"),
    );
    await assert.rejects(store.manufacturers.insert({ ...m, id: "m3", name: "Other" }), (e: unknown) =>
      isVigilError(e, "STORE_CONFLICT"),
    );
    assert.deepEqual(await store.manufacturers.get("m1"), m);
    assert.deepEqual(
      (await store.manufacturers.list()).map((x) => x.id),
      ["m0", "m1"],
    );
    assert.equal(await store.manufacturers.revoke("m1", ms(9)), true);
    assert.equal(await store.manufacturers.revoke("m1", ms(10)), false);
    assert.equal((await store.manufacturers.get("m1"))?.revokedAt, 9);
  });

  it("enrollment tokens: a batch is all or nothing; lists by creation, with or without used ones", async ({ store }) => {
    await store.enrollmentTokens.insertMany([enrollmentToken("t2", { createdAt: ms(20) }), enrollmentToken("t1")]);
    await assert.rejects(store.enrollmentTokens.insertMany([enrollmentToken("t3"), enrollmentToken("t1")]));
    assert.equal(await store.enrollmentTokens.get("t3"), undefined);
    assert.deepEqual(await store.enrollmentTokens.get("t1"), enrollmentToken("t1"));
    await store.enrollments.recordEnrollment({
      device: device("e1", { state: "active" }),
      completesPending: false,
      certificate: cert("e1-1", "e1"),
      tokenId: "t1",
      at: ms(50),
    });
    assert.deepEqual(
      (await store.enrollmentTokens.list({ includeUsed: true })).map((t) => t.id),
      ["t1", "t2"],
    );
    assert.deepEqual(
      (await store.enrollmentTokens.list({ includeUsed: false })).map((t) => t.id),
      ["t2"],
    );
    const used = await store.enrollmentTokens.get("t1");
    assert.equal(used?.usedAt, 50);
    assert.equal(used?.usedByDevice, "e1");
  });

  it("enrollment ledger: group commit; a failing write neither fails nor undoes the others", async ({ store }) => {
    await store.enrollmentTokens.insertMany([enrollmentToken("tok")]);
    await store.devices.insert(device("pending-1"));
    await store.enrollments.recordEnrollment({
      device: device("first", { state: "active", factoryCertSha256: "fc-1" }),
      completesPending: false,
      certificate: cert("first-1", "first"),
      tokenId: "tok",
      at: ms(5),
    });
    const results = await Promise.allSettled([
      store.enrollments.recordEnrollment({
        device: device("replayer", { state: "active" }),
        completesPending: false,
        certificate: cert("replayer-1", "replayer"),
        tokenId: "tok",
        at: ms(6),
      }),
      store.enrollments.recordEnrollment({
        device: device("clone", { state: "active", factoryCertSha256: "fc-1" }),
        completesPending: false,
        certificate: cert("clone-1", "clone"),
        tokenId: null,
        at: ms(6),
      }),
      store.enrollments.recordEnrollment({
        device: device("first", { state: "active" }),
        completesPending: false,
        certificate: cert("first-2", "first"),
        tokenId: null,
        at: ms(6),
      }),
      store.enrollments.recordEnrollment({
        device: device("pending-1", { state: "active", firmwareVersion: "3.0", enrolledAt: ms(6) }),
        completesPending: true,
        certificate: cert("pending-1-1", "pending-1"),
        tokenId: null,
        at: ms(6),
      }),
      store.enrollments.recordEnrollment({
        device: device("ghost", { state: "active" }),
        completesPending: true,
        certificate: cert("ghost-1", "ghost"),
        tokenId: null,
        at: ms(6),
      }),
      store.enrollments.recordRenewal({ certificate: cert("first-3", "first", { issuedAt: ms(9000) }), at: ms(6) }),
      ...Array.from({ length: 20 }, (_, i) =>
        store.enrollments.recordEnrollment({
          device: device(`bulk-${i}`, { state: "active" }),
          completesPending: false,
          certificate: cert(`bulk-${i}-1`, `bulk-${i}`),
          tokenId: null,
          at: ms(7),
        }),
      ),
    ]);
    const codeOf = (r: PromiseSettledResult<void> | undefined) =>
      r?.status === "rejected" ? ((r.reason as { code?: string }).code ?? String(r.reason)) : "ok";
    assert.deepEqual(results.slice(0, 6).map(codeOf), [
      "ENROLLMENT_TOKEN_REPLAYED",
      "ENROLLMENT_FACTORY_CERT_REUSED",
      "ENROLLMENT_ALREADY_ENROLLED",
      "ok",
      "ENROLLMENT_ALREADY_ENROLLED",
      "ok",
    ]);
    assert.ok(results.slice(6).every((r) => r.status === "fulfilled"));
    assert.equal(await store.devices.get(dev("replayer")), undefined, "nothing of a refused write is kept");
    assert.equal(await store.certificates.get("replayer-1"), undefined);
    assert.equal(await store.devices.get(dev("clone")), undefined);
    assert.equal(await store.certificates.get("first-2"), undefined);
    assert.equal((await store.enrollmentTokens.get("tok"))?.usedByDevice, "first");
    assert.equal((await store.devices.get(dev("pending-1")))?.firmwareVersion, "3.0");
    assert.equal((await store.certificates.get("pending-1-1"))?.deviceId, "pending-1");
    assert.equal((await store.certificates.get("first-3"))?.issuedAt, 9000);
    assert.equal(await store.devices.count(), 22);
  });

  it("operators: unique username, listed by username, password and disabled updates", async ({ store }) => {
    await store.operators.insert(operator("op_2", "zoe", { sites: ["north", "south"], mustChangePassword: true }));
    await store.operators.insert(operator("op_1", "ann"));
    await assert.rejects(store.operators.insert(operator("op_3", "ann")), (e: unknown) => isVigilError(e, "STORE_CONFLICT"));
    assert.equal(await store.operators.count(), 2);
    assert.deepEqual(
      (await store.operators.list()).map((o) => o.username),
      ["ann", "zoe"],
    );
    assert.deepEqual(
      await store.operators.findByUsername("zoe"),
      operator("op_2", "zoe", { sites: ["north", "south"], mustChangePassword: true }),
    );
    await store.operators.updatePassword("op_2" as OperatorId, "new-hash", false, ms(50));
    await store.operators.setDisabled("op_1" as OperatorId, ms(60), ms(60));
    const zoe = await store.operators.findById("op_2" as OperatorId);
    assert.equal(zoe?.passwordHash, "new-hash");
    assert.equal(zoe?.mustChangePassword, false);
    assert.equal(zoe?.updatedAt, 50);
    assert.equal((await store.operators.findById("op_1" as OperatorId))?.disabledAt, 60);
    await store.operators.setDisabled("op_1" as OperatorId, null, ms(70));
    assert.equal((await store.operators.findById("op_1" as OperatorId))?.disabledAt, null);
  });

  it("API tokens: lookup, revoke once, MFA mark, revoke all of an operator", async ({ store }) => {
    await store.operators.insert(operator("op_1", "ann"));
    await store.operators.insert(operator("op_2", "bob"));
    const token = (id: string, op: string, createdAt: number) => ({
      id: id as TokenId,
      operatorId: op as OperatorId,
      secretHash: `h-${id}`,
      scopes: ["devices:read", "audit:read"] as unknown as Scope[],
      label: `label ${id}`,
      createdAt: ms(createdAt),
      expiresAt: ms(createdAt + 1000),
      revokedAt: null,
      mfa: false,
    });
    await store.tokens.insert(token("tk2", "op_1", 20));
    await store.tokens.insert(token("tk1", "op_1", 10));
    await store.tokens.insert(token("tk3", "op_2", 10));
    await assert.rejects(store.tokens.insert(token("tk1", "op_2", 1)), (e: unknown) => isVigilError(e, "STORE_CONFLICT"));
    assert.deepEqual(await store.tokens.findById("tk1" as TokenId), token("tk1", "op_1", 10));
    assert.deepEqual(
      (await store.tokens.listForOperator("op_1" as OperatorId)).map((t) => t.id),
      ["tk1", "tk2"],
    );
    await store.tokens.markMfa("tk1" as TokenId);
    assert.equal((await store.tokens.findById("tk1" as TokenId))?.mfa, true);
    assert.equal(await store.tokens.revoke("tk1" as TokenId, ms(30)), true);
    assert.equal(await store.tokens.revoke("tk1" as TokenId, ms(31)), false);
    assert.equal((await store.tokens.findById("tk1" as TokenId))?.revokedAt, 30);
    assert.equal(await store.tokens.revokeAllFor("op_1" as OperatorId, ms(40)), 1);
    assert.equal((await store.tokens.findById("tk3" as TokenId))?.revokedAt, null);
  });

  it("MFA: pending then confirmed TOTP, steps only move forward, recovery codes once, WebAuthn, clear", async ({ store }) => {
    const op = "op_1" as OperatorId;
    await store.operators.insert(operator("op_1", "ann"));
    assert.equal(await store.mfa.getTotp(op), undefined);
    await store.mfa.setPendingTotp(op, "sealed:v1:AAAA", ms(1));
    await store.mfa.setPendingTotp(op, "sealed:v1:BBBB", ms(2));
    assert.equal(await store.mfa.getPendingTotp(op), "sealed:v1:BBBB");
    assert.equal(await store.mfa.getTotp(op), undefined, "not confirmed yet");
    await store.mfa.confirmTotp(op, 100, ms(3));
    assert.deepEqual(await store.mfa.getTotp(op), { sealedSecret: "sealed:v1:BBBB", confirmedAt: 3, lastStep: 100 });
    assert.equal(await store.mfa.getPendingTotp(op), undefined);
    assert.equal(await store.mfa.useTotpStep(op, 100), false, "a step is used once");
    const racing = await Promise.all([store.mfa.useTotpStep(op, 101), store.mfa.useTotpStep(op, 101)]);
    assert.deepEqual(racing.sort(), [false, true], "two requests racing with one code: one passes");
    assert.equal(await store.mfa.useTotpStep(op, 99), false);

    await store.mfa.replaceRecoveryCodes(op, ["c1", "c2", "c3"], ms(4));
    await store.mfa.replaceRecoveryCodes(op, ["c4", "c5"], ms(5));
    assert.equal(await store.mfa.recoveryCodesLeft(op), 2);
    assert.equal(await store.mfa.useRecoveryCode(op, "c1", ms(6)), false, "replaced codes are gone");
    assert.equal(await store.mfa.useRecoveryCode(op, "c4", ms(6)), true);
    assert.equal(await store.mfa.useRecoveryCode(op, "c4", ms(7)), false);
    assert.equal(await store.mfa.recoveryCodesLeft(op), 1);

    const cred = {
      id: "cred-1",
      operatorId: op,
      name: "key",
      publicKey: "pk",
      counter: 0,
      transports: ["usb", "nfc"],
      createdAt: ms(8),
      lastUsedAt: null,
    };
    await store.mfa.addWebAuthn(cred);
    await assert.rejects(store.mfa.addWebAuthn(cred), (e: unknown) => isVigilError(e, "STORE_CONFLICT"));
    await store.mfa.updateWebAuthnCounter("cred-1", 7, ms(9));
    assert.deepEqual(await store.mfa.listWebAuthn(op), [{ ...cred, counter: 7, lastUsedAt: 9 }]);
    await store.mfa.clear(op);
    assert.equal(await store.mfa.getTotp(op), undefined);
    assert.equal(await store.mfa.recoveryCodesLeft(op), 0);
    assert.deepEqual(await store.mfa.listWebAuthn(op), []);
  });

  it("console sessions: lookup, touch, MFA, revoke once, revoke all", async ({ store }) => {
    await store.operators.insert(operator("op_1", "ann"));
    const session = (id: string) => ({
      id,
      operatorId: "op_1" as OperatorId,
      secretHash: `s-${id}`,
      csrfHash: `c-${id}`,
      mfa: false,
      remote: "127.0.0.1",
      createdAt: ms(1),
      expiresAt: ms(1000),
      lastSeenAt: ms(1),
      revokedAt: null,
    });
    await store.sessions.insert(session("se1"));
    await store.sessions.insert(session("se2"));
    assert.deepEqual(await store.sessions.findById("se1"), session("se1"));
    await store.sessions.touch("se1", ms(50));
    await store.sessions.markMfa("se1");
    assert.deepEqual(await store.sessions.findById("se1"), { ...session("se1"), lastSeenAt: 50, mfa: true });
    assert.equal(await store.sessions.revoke("se1", ms(60)), true);
    assert.equal(await store.sessions.revoke("se1", ms(61)), false);
    assert.equal(await store.sessions.revokeAllFor("op_1" as OperatorId, ms(70)), 1);
    assert.equal((await store.sessions.findById("se2"))?.revokedAt, 70);
    assert.equal(await store.sessions.findById("nope"), undefined);
  });

  it("sealed data keys: the first writer wins, rewrap keeps the name, bytes round-trip exactly", async ({ store }) => {
    const wrapped = { v: 1, iv: "AAECAwQFBgcICQoL", tag: "3q2+7w==", data: "/+/+AAEC" } as unknown as SealedBlob;
    const first = await store.dataKeys.insertIfAbsent({
      name: "operator_mfa",
      masterKeyId: "mk1",
      wrapped,
      createdAt: ms(1),
      rewrappedAt: null,
    });
    const second = await store.dataKeys.insertIfAbsent({
      name: "operator_mfa",
      masterKeyId: "mk2",
      wrapped: { ...wrapped, data: "other" },
      createdAt: ms(2),
      rewrappedAt: null,
    });
    assert.deepEqual(second, first);
    assert.deepEqual(first.wrapped, wrapped);
    await store.dataKeys.rewrap("operator_mfa", "mk3", { ...wrapped, data: "rewrapped" }, ms(5));
    const after = await store.dataKeys.get("operator_mfa");
    assert.equal(after?.masterKeyId, "mk3");
    assert.equal(after?.rewrappedAt, 5);
    assert.equal((after?.wrapped as unknown as { data: string }).data, "rewrapped");
    await store.dataKeys.insertIfAbsent({ name: "a_first", masterKeyId: "mk3", wrapped, createdAt: ms(6), rewrappedAt: null });
    assert.deepEqual(
      (await store.dataKeys.list()).map((k) => k.name),
      ["a_first", "operator_mfa"],
    );
  });

  it("audit: entries, checkpoints and keys round-trip; ranges are by seq", async ({ store }) => {
    const entries = chain(1, 25, GENESIS_HASH);
    assert.equal(await store.audit.last(), undefined);
    await store.audit.appendBatch(entries.slice(0, 10));
    await store.audit.appendBatch(entries.slice(10));
    await store.audit.appendBatch([]);
    assert.equal(await store.audit.count(), 25);
    assert.deepEqual(await store.audit.last(), entries[24]);
    assert.deepEqual(await store.audit.range(5, 3), entries.slice(4, 7));
    assert.deepEqual(await store.audit.range(24, 100), entries.slice(23));
    await store.audit.appendCheckpoint({ seq: 25, hash: entries[24]?.hash ?? "", at: ms(5), keyId: "k1", signature: "c2ln" });
    await assert.rejects(
      store.audit.appendCheckpoint({ seq: 25, hash: "other", at: ms(6), keyId: "k1", signature: "x" }),
      (e: unknown) => isVigilError(e, "STORE_CONFLICT"),
    );
    await store.audit.addKey({ id: "k1", algorithm: "ed25519", publicKey: "PEM", createdAt: ms(1) });
    await store.audit.addKey({ id: "k1", algorithm: "ed25519", publicKey: "PEM", createdAt: ms(1) });
    await store.audit.addKey({ id: "k0", algorithm: "ed25519", publicKey: "PEM0", createdAt: ms(1) });
    assert.deepEqual(await store.audit.checkpoints(), [
      { seq: 25, hash: entries[24]?.hash, at: 5, keyId: "k1", signature: "c2ln" },
    ]);
    assert.deepEqual(
      (await store.audit.keys()).map((k) => k.id),
      ["k0", "k1"],
      "adding a known key is a no-op; keys by creation then id",
    );
  });

  it("audit: a batch is one transaction: a duplicate seq writes none of it and is STORE_CONFLICT", async ({ store }) => {
    const entries = chain(1, 5, GENESIS_HASH);
    await store.audit.appendBatch(entries.slice(0, 3));
    await assert.rejects(store.audit.appendBatch(entries.slice(2)), (e: unknown) => isVigilError(e, "STORE_CONFLICT"));
    assert.equal(await store.audit.count(), 3, "entries 4 and 5 were not written either");
    assert.deepEqual(await store.audit.last(), entries[2]);
  });

  it("audit: concurrent appends keep the chain in seq order; a writer with a stale head is refused", async ({ store }) => {
    const entries = chain(1, 200, GENESIS_HASH);
    const batches = Array.from({ length: 20 }, (_, i) => entries.slice(i * 10, i * 10 + 10));
    // Writers in order, without awaiting one before the next (as the audit log's batching does).
    await Promise.all(batches.map((b) => store.audit.appendBatch(b)));
    const stored = await store.audit.range(1, 1000);
    assert.deepEqual(stored, entries);
    let prev = GENESIS_HASH;
    for (const e of stored) {
      assert.equal(e.prevHash, prev);
      assert.equal(auditEntryHash(e), e.hash);
      prev = e.hash;
    }
    const stale = chain(200, 2, entries[198]?.hash ?? "");
    await assert.rejects(store.audit.appendBatch(stale), (e: unknown) => isVigilError(e, "STORE_CONFLICT"));
    assert.equal(await store.audit.count(), 200);
  });

  it("audit: the engine refuses UPDATE and DELETE of entries and checkpoints, even in raw SQL", async (h) => {
    await h.store.audit.appendBatch(chain(1, 2, GENESIS_HASH));
    await h.store.audit.appendCheckpoint({ seq: 2, hash: "h", at: ms(1), keyId: "k", signature: "s" });
    await h.store.audit.addKey({ id: "k", algorithm: "ed25519", publicKey: "p", createdAt: ms(1) });
    for (const sql of [
      "UPDATE audit_entries SET actor = 'x' WHERE seq = 1",
      "DELETE FROM audit_entries WHERE seq = 1",
      "UPDATE audit_checkpoints SET hash = 'x'",
      "DELETE FROM audit_checkpoints",
      "DELETE FROM audit_keys",
    ]) {
      await assert.rejects(h.exec(sql), /append-only/, sql);
    }
    assert.equal(await h.store.audit.count(), 2);
    assert.equal((await h.store.audit.range(1, 1))[0]?.actor, "admin");
  });

  it("trust: scores upsert in batches; history keeps the newest `keep`, newest first", async ({ store }) => {
    const rec = (d: string, score: number, at: number): TrustRecord => ({
      device: dev(d),
      score,
      tier: score > 50 ? "standard" : "restricted",
      vertical: "healthcare",
      state: trustState(`fw-${score}`),
      updatedAt: ms(at),
    });
    await store.trust.saveMany([rec("t1", 72.5, 1), rec("t2", 40, 1)]);
    await store.trust.saveMany([rec("t1", 30.25, 2)]);
    await store.trust.saveMany([]);
    assert.deepEqual(await store.trust.get(dev("t1")), rec("t1", 30.25, 2));
    assert.equal((await store.trust.loadAll()).length, 2);
    assert.equal(await store.trust.get(dev("none")), undefined);
    for (let i = 1; i <= 8; i++) {
      await store.trust.appendHistory(
        {
          device: dev("t1"),
          at: ms(i),
          score: i * 10,
          tier: "standard",
          from: i === 1 ? null : "restricted",
          reasons: [`r${i}`],
        },
        5,
      );
    }
    await store.trust.appendHistory({ device: dev("t2"), at: ms(1), score: 1, tier: "quarantine", from: null, reasons: [] }, 5);
    const history = await store.trust.history(dev("t1"), 100);
    assert.deepEqual(
      history.map((h) => h.at),
      [8, 7, 6, 5, 4],
    );
    assert.deepEqual(history[0], { device: "t1", at: 8, score: 80, tier: "standard", from: "restricted", reasons: ["r8"] });
    assert.equal((await store.trust.history(dev("t1"), 2)).length, 2);
    assert.equal((await store.trust.history(dev("t2"), 10)).length, 1);
  });

  it("ota: artifacts, metadata versions, a campaign with its targets in one transaction, progress with firmware", async ({
    store,
  }) => {
    const artifact = {
      name: "pump-2.5.0",
      version: "2.5.0",
      profile: "infusion-pump",
      hardware: ["rev-a", "rev-b"],
      minVersion: "2.0.0",
      counter: 7,
      sha256: "ab".repeat(32),
      length: 123456,
      sbomRef: null,
      file: "pump-2.5.0.bin",
      createdAt: ms(5),
      createdBy: "admin",
    };
    await store.ota.insertArtifact(artifact);
    await assert.rejects(store.ota.insertArtifact({ ...artifact, version: "9" }), (e: unknown) =>
      isVigilError(e, "STORE_CONFLICT"),
    );
    assert.deepEqual(await store.ota.getArtifact("pump-2.5.0"), artifact);
    assert.equal((await store.ota.listArtifacts()).length, 1);

    for (const [role, version] of [
      ["root", 1],
      ["root", 2],
      ["targets", 1],
      ["root", 3],
    ] as const) {
      await store.ota.putMetadata({ role, version, body: `{"signed":{"version":${version}}}`, createdAt: ms(version) });
    }
    await assert.rejects(store.ota.putMetadata({ role: "root", version: 2, body: "{}", createdAt: ms(9) }), (e: unknown) =>
      isVigilError(e, "STORE_CONFLICT"),
    );
    assert.equal((await store.ota.latestMetadata("root"))?.version, 3);
    assert.equal((await store.ota.latestMetadata("targets"))?.body, '{"signed":{"version":1}}');
    assert.deepEqual(
      (await store.ota.rootsAfter(1)).map((m) => m.version),
      [2, 3],
    );

    await store.devices.insertMany([device("p1", { firmwareVersion: "2.0.0" }), device("p2", { firmwareVersion: "2.0.0" })]);
    const campaign: CampaignRecord = {
      id: "cmp-1",
      name: "spring",
      artifact: "pump-2.5.0",
      version: "2.5.0",
      state: "running",
      wave: 0,
      waves: 3,
      selector: { profile: "infusion-pump" },
      options: { canaryPercent: 10, rollback: "automatic", window: null } as unknown as CampaignRecord["options"],
      haltReason: null,
      baseline: { failed: 0, trustDrops: 0, notified: 0 },
      createdAt: ms(10),
      updatedAt: ms(10),
      createdBy: "admin",
    };
    const target = (d: string, wave: number): CampaignTargetRecord => ({
      campaign: "cmp-1",
      device: dev(d),
      wave,
      state: "pending",
      fromVersion: "2.0.0",
      reason: null,
      trustDropped: false,
      updatedAt: ms(10),
    });
    await assert.rejects(
      store.ota.insertCampaign({ ...campaign, id: "cmp-bad" }, [
        { ...target("p1", 0), campaign: "cmp-bad" },
        { ...target("p1", 1), campaign: "cmp-bad" },
      ]),
    );
    assert.equal(await store.ota.getCampaign("cmp-bad"), undefined, "a failed campaign insert leaves nothing");
    await store.ota.insertCampaign(campaign, [target("p1", 0), target("p2", 1)]);
    assert.deepEqual(await store.ota.getCampaign("cmp-1"), campaign);
    const halted = {
      ...campaign,
      state: "halted" as CampaignRecord["state"],
      wave: 1,
      haltReason: "failures",
      updatedAt: ms(20),
    };
    await store.ota.updateCampaign(halted);
    assert.deepEqual(await store.ota.listCampaigns(), [halted]);
    await store.ota.saveTargets(
      [{ ...target("p1", 0), state: "succeeded" as CampaignTargetRecord["state"], trustDropped: true, updatedAt: ms(30) }],
      new Map([[dev("p1"), "2.5.0"]]),
    );
    const targets = (await store.ota.targetsOf("cmp-1")).sort((a, b) => a.device.localeCompare(b.device));
    assert.equal(targets[0]?.state, "succeeded");
    assert.equal(targets[0]?.trustDropped, true);
    assert.equal(targets[1]?.state, "pending");
    assert.equal((await store.devices.get(dev("p1")))?.firmwareVersion, "2.5.0");
    assert.equal((await store.devices.get(dev("p2")))?.firmwareVersion, "2.0.0");
  });

  it("assessment: SBOMs by (profile, firmware), advisories only move forward, VEX, findings, check runs kept", async ({
    store,
  }) => {
    const sbom = (id: string, profile: string | null, fw: string, serial: string | null, importedAt: number): SbomRecord => ({
      id,
      profile,
      firmwareVersion: fw,
      specVersion: "1.6",
      serialNumber: serial,
      bomVersion: 1,
      subjectName: "fw",
      sha256: `sha-${id}`,
      components: [
        {
          name: "openssl",
          group: null,
          version: "1.1.1",
          type: "library",
          purl: "pkg:generic/openssl@1.1.1",
          packageKey: "generic//openssl",
          scheme: null,
          versionParses: true,
          bomRef: null,
        },
      ],
      importedAt: ms(importedAt),
      importedBy: "admin",
    });
    await store.assessment.putSbom(sbom("s1", "pump", "1.0", "urn:uuid:a", 1));
    await store.assessment.putSbom(sbom("s2", null, "1.0", "urn:uuid:a", 2));
    await store.assessment.putSbom(sbom("s3", "pump", "1.0", "urn:uuid:b", 3));
    assert.equal((await store.assessment.findSbom({ profile: "pump", firmwareVersion: "1.0" }))?.id, "s1", "the id is kept");
    assert.equal((await store.assessment.findSbom({ profile: "pump", firmwareVersion: "1.0" }))?.serialNumber, "urn:uuid:b");
    assert.equal((await store.assessment.findSbom({ profile: null, firmwareVersion: "1.0" }))?.id, "s2");
    assert.equal((await store.assessment.findSbomBySerial("urn:uuid:a"))?.id, "s2");
    assert.deepEqual(await store.assessment.getSbom("s2"), sbom("s2", null, "1.0", "urn:uuid:a", 2));
    assert.deepEqual(
      (await store.assessment.listSboms()).map((s) => [s.id, s.profile, s.componentCount]),
      [
        ["s2", null, 1],
        ["s1", "pump", 1],
      ],
    );

    const advisory = (id: string, modified: number, keys: string[]) =>
      ({
        id,
        modified,
        published: null,
        withdrawn: null,
        aliases: [],
        summary: `adv ${id}`,
        severity: "high",
        cvss: 7.5,
        cvssVector: null,
        affected: keys.map((packageKey) => ({ packageKey })),
        references: [],
      }) as unknown as Advisory;
    assert.deepEqual(
      await store.assessment.putAdvisories([advisory("A-2", 10, ["k1"]), advisory("A-1", 10, ["k1", "k2"])], ms(100)),
      {
        inserted: 2,
        updated: 0,
        unchanged: 0,
      },
    );
    assert.deepEqual(await store.assessment.putAdvisories([advisory("A-1", 5, ["k3"]), advisory("A-2", 11, ["k2"])], ms(200)), {
      inserted: 0,
      updated: 1,
      unchanged: 1,
    });
    const byKey = await store.assessment.advisoriesForPackages(["k1", "k2", "k3", "k-none"]);
    assert.deepEqual(
      [...byKey.entries()].map(([k, list]) => [k, list.map((a) => a.id)]),
      [
        ["k1", ["A-1"]],
        ["k2", ["A-1", "A-2"]],
      ],
    );
    assert.equal(await store.assessment.advisoryCount(), 2);
    assert.equal(await store.assessment.lastAdvisoryImportAt(), 200);
    assert.deepEqual(
      (await store.assessment.listAdvisories({ limit: 1 })).map((a) => a.id),
      ["A-1"],
    );
    assert.deepEqual(
      (await store.assessment.listAdvisories({ limit: 5, after: "A-1" })).map((a) => a.id),
      ["A-2"],
    );

    const vex = {
      vulnerability: "CVE-1",
      packageKey: "k1",
      version: null,
      sbomSerial: null,
      state: "not_affected" as const,
      justification: "code_not_reachable",
      detail: null,
    };
    assert.equal(await store.assessment.putVex([vex, { ...vex, version: "1.0" }], "vex.json", ms(1)), 2);
    assert.equal(await store.assessment.putVex([{ ...vex, detail: "again" }], "vex2.json", ms(2)), 0);
    const listed = await store.assessment.listVex();
    assert.equal(listed.length, 2);
    assert.ok(listed.some((v) => v.version === null && v.sbomSerial === null && v.detail === "again"));

    const finding = (d: string, a: string, status: FindingRecord["status"]): FindingRecord => ({
      deviceId: dev(d),
      advisoryId: a,
      component: "pkg:generic/openssl@1.1.1",
      componentVersion: "1.1.1",
      sbomId: "s1",
      severity: "high",
      cvss: 7.5,
      fixedVersion: "1.1.2",
      status,
      resolution: status === "open" ? null : "vex",
      firstSeenAt: ms(1),
      lastSeenAt: ms(2),
      resolvedAt: status === "open" ? null : ms(3),
    });
    await store.assessment.saveFindings([
      finding("d2", "A-1", "open"),
      finding("d1", "A-2", "open"),
      finding("d1", "A-1", "open"),
    ]);
    await store.assessment.saveFindings([finding("d1", "A-2", "resolved")]);
    assert.deepEqual(
      (await store.assessment.listFindings({})).map((f) => `${f.deviceId}/${f.advisoryId}/${f.status}`),
      ["d1/A-1/open", "d1/A-2/resolved", "d2/A-1/open"],
    );
    assert.equal((await store.assessment.listFindings({ deviceId: dev("d1"), status: "open" })).length, 1);
    assert.equal((await store.assessment.listFindings({ status: "open" })).length, 2);
    assert.deepEqual((await store.assessment.listFindings({ deviceId: dev("d1") }))[1], finding("d1", "A-2", "resolved"));

    assert.equal(await store.assessment.lastCheckRun(), undefined);
    for (let i = 0; i < 5; i++) {
      await store.assessment.saveCheckRun(
        { id: `run-${i}`, at: ms(i < 3 ? 100 : 100 + i), trigger: "scheduled", results: [{ i }] },
        3,
      );
    }
    assert.deepEqual(await store.assessment.lastCheckRun(), { id: "run-4", at: 104, trigger: "scheduled", results: [{ i: 4 }] });
    await store.assessment.saveCheckRun({ id: "run-5", at: ms(104), trigger: "on-demand", results: [] }, 3);
    assert.equal((await store.assessment.lastCheckRun())?.id, "run-5", "at equal times the later insert is the last");
  });

  it("incidents: upsert, active ones by opening, filtered lists newest first; dead letters; legacy passwords", async ({
    store,
  }) => {
    const incident = (id: string, d: string, state: Incident["state"], openedAt: number) =>
      ({
        id,
        device: dev(d),
        state,
        severity: "high",
        rules: ["flood"],
        categories: ["dos"],
        evidenceCount: 1,
        firstEvidenceAt: ms(openedAt),
        lastEvidenceAt: ms(openedAt),
        openedAt: ms(openedAt),
        containedAt: null,
        recoveringAt: null,
        resolvedAt: null,
        closedAt: null,
        updatedAt: ms(openedAt),
        playbooks: [],
        mitigation: null,
        approval: null,
        timeline: [{ at: openedAt, what: "opened ✓" }],
      }) as unknown as Incident;
    await store.incidents.save(incident("i2", "d1", "open", 20));
    await store.incidents.save(incident("i1", "d1", "open", 10));
    await store.incidents.save(incident("i3", "d2", "contained", 30));
    await store.incidents.save({ ...incident("i1", "d1", "closed", 10), updatedAt: ms(99) });
    assert.deepEqual(await store.incidents.get("i1"), { ...incident("i1", "d1", "closed", 10), updatedAt: 99 });
    assert.deepEqual(
      (await store.incidents.listActive()).map((i) => i.id),
      ["i2", "i3"],
    );
    assert.deepEqual(
      (await store.incidents.list({ limit: 10 })).map((i) => i.id),
      ["i3", "i2", "i1"],
    );
    assert.deepEqual(
      (await store.incidents.list({ limit: 10, device: dev("d1") })).map((i) => i.id),
      ["i2", "i1"],
    );
    assert.deepEqual(
      (await store.incidents.list({ limit: 1, state: "open", device: dev("d1") })).map((i) => i.id),
      ["i2"],
    );

    const letter = (id: string, at: number, attempts: number) =>
      ({
        id,
        at,
        sink: "webhook",
        url: "https://siem.example/hook",
        attempts,
        error: "timeout",
        event: { schema: "vigil.response.v1", id: `e-${id}`, type: "incident.opened" },
      }) as unknown as DeadLetter;
    await store.deadLetters.add(letter("l1", 10, 3));
    await store.deadLetters.add(letter("l2", 20, 3));
    await store.deadLetters.add(letter("l1", 30, 5));
    assert.deepEqual(await store.deadLetters.list(10), [letter("l1", 30, 5), letter("l2", 20, 3)]);
    assert.equal((await store.deadLetters.list(1)).length, 1);

    await store.devices.insert(device("legacy-1"));
    assert.equal(await store.legacyCredentials.get(dev("legacy-1")), undefined);
    await store.legacyCredentials.set({ device: dev("legacy-1"), passwordHash: "$argon2id$a", setAt: ms(1), setBy: "ann" });
    await store.legacyCredentials.set({ device: dev("legacy-1"), passwordHash: "$argon2id$b", setAt: ms(2), setBy: "bob" });
    assert.deepEqual(await store.legacyCredentials.get(dev("legacy-1")), {
      device: "legacy-1",
      passwordHash: "$argon2id$b",
      setAt: 2,
      setBy: "bob",
    });
  });

  it("readmissions: pending until readmitted in one transaction; a second or replayed readmission changes nothing", async ({
    store,
  }) => {
    const readmissions = store.readmissions;
    assert.ok(readmissions !== undefined, "both engines keep re-admissions");
    await store.devices.insert(device("rd1", { state: "active" }));
    await store.enrollments.recordRenewal({ certificate: cert("rd1-old", "rd1"), at: ms(1) });
    await store.devices.revoke(dev("rd1"), ms(2), "compromised");
    assert.equal(await readmissions.pending(dev("rd1")), undefined);
    await readmissions.require({ device: dev("rd1"), reason: "reattestation", incident: "inc-0", since: ms(3), tokenId: null });
    await store.enrollmentTokens.insertMany([enrollmentToken("rt1"), enrollmentToken("rt-used", { usedAt: ms(1) })]);
    await readmissions.require({ device: dev("rd1"), reason: "reprovision", incident: "inc-1", since: ms(4), tokenId: "rt1" });
    assert.deepEqual(await readmissions.pending(dev("rd1")), {
      device: "rd1",
      reason: "reprovision",
      incident: "inc-1",
      since: 4,
      tokenId: "rt1",
      readmittedAt: null,
      serial: null,
    });
    const back = device("rd1", { state: "active", firmwareVersion: "4.0", attestationMethod: "claim-token", enrolledAt: ms(5) });
    await assert.rejects(
      readmissions.readmit({ device: back, certificate: cert("rd1-new", "rd1"), tokenId: "rt-used", at: ms(5) }),
      (e: unknown) => isVigilError(e, "ENROLLMENT_TOKEN_REPLAYED"),
    );
    assert.equal((await store.devices.get(dev("rd1")))?.state, "revoked", "a refused readmission changes nothing");
    assert.equal(await store.certificates.get("rd1-new"), undefined);
    await readmissions.readmit({ device: back, certificate: cert("rd1-new", "rd1"), tokenId: "rt1", at: ms(5) });
    const active = await store.devices.get(dev("rd1"));
    assert.deepEqual([active?.state, active?.firmwareVersion], ["active", "4.0"]);
    assert.equal((await store.certificates.get("rd1-old"))?.revocationReason, "compromised", "old certificates stay revoked");
    assert.equal((await store.certificates.get("rd1-new"))?.revokedAt, null);
    assert.equal((await store.enrollmentTokens.get("rt1"))?.usedByDevice, "rd1");
    assert.equal(await readmissions.pending(dev("rd1")), undefined);
    await assert.rejects(
      readmissions.readmit({ device: back, certificate: cert("rd1-again", "rd1"), tokenId: null, at: ms(6) }),
      (e: unknown) => isVigilError(e, "DEVICE_REVOKED"),
    );
    assert.equal(await store.certificates.get("rd1-again"), undefined);
  });

  it("drills: saved and listed latest first; saving again only moves the end earlier", async ({ store }) => {
    const drills = store.drills;
    assert.ok(drills !== undefined, "both engines keep drills");
    const base = { devices: ["meter-7", "pump-1"], prefixes: ["drill-ab12c-"], by: "alice" };
    await drills.save({ ...base, id: "drl_a", name: "flood", startedAt: 1_000, endsAt: 61_000 });
    await drills.save({ ...base, id: "drl_b", name: "recon", startedAt: 2_000, endsAt: 62_000, devices: [], prefixes: [] });
    assert.deepEqual(
      (await drills.recent(10)).map((d) => d.id),
      ["drl_b", "drl_a"],
    );
    assert.deepEqual(
      (await drills.recent(1)).map((d) => d.id),
      ["drl_b"],
    );
    await drills.save({ ...base, id: "drl_a", name: "flood", startedAt: 1_000, endsAt: 30_000 });
    await drills.save({ ...base, id: "drl_a", name: "flood", startedAt: 1_000, endsAt: 90_000 });
    const a = (await drills.recent(10)).find((d) => d.id === "drl_a");
    assert.deepEqual(a, { ...base, id: "drl_a", name: "flood", startedAt: 1_000, endsAt: 30_000 });
  });

  it("jobs: of two concurrent runs of one job only one runs; other jobs and later runs are free", async ({ store }) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    const first = store.jobs.tryRun("audit-checks", async () => {
      runs += 1;
      await gate;
      return "first";
    });
    // Let the first holder take the lock before the second asks.
    for (let i = 0; i < 50 && runs === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const second = await store.jobs.tryRun("audit-checks", async () => {
      runs += 1;
      return "second";
    });
    assert.deepEqual(second, { ran: false });
    const other = await store.jobs.tryRun("cert-renewals", async () => 42);
    assert.deepEqual(other, { ran: true, value: 42 });
    release();
    assert.deepEqual(await first, { ran: true, value: "first" });
    assert.equal(runs, 1);
    assert.deepEqual(await store.jobs.tryRun("audit-checks", async () => "third"), { ran: true, value: "third" });
    await assert.rejects(
      store.jobs.tryRun("audit-checks", async () => {
        throw new Error("job failed");
      }),
      /job failed/,
    );
    assert.deepEqual(await store.jobs.tryRun("audit-checks", async () => "after a failure"), {
      ran: true,
      value: "after a failure",
    });
  });
}
