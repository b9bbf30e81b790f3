import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pino } from "pino";
import { ManualClock, isVigilError } from "../../core/index.js";
import { openSqliteStore } from "../../store/index.js";
import { FileMasterKey, SealedFileVault } from "./key-vault.js";
import { nextKeyFile, openMasterKeyRing, rotateMasterKey } from "./master-key-ring.js";
import { SealedFields } from "./sealed-field.js";

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "vigil-sealed-"));
  const store = openSqliteStore(join(dir, "vigil.db"), pino({ level: "silent" }));
  return { dir, store, clock: new ManualClock() };
}

test("a sealed field opens only in its own table and context, and any bit flip is detected", async () => {
  const { dir, store, clock } = setup();
  const fields = new SealedFields(await FileMasterKey.open(join(dir, "master.key"), { create: true }), store.dataKeys, clock);
  const telemetry = await fields.field("telemetry");
  const sealed = telemetry.seal("heart rate 71", "dev-1:7");
  assert.match(sealed, /^vsf1:/);
  assert.ok(!sealed.includes("heart"));
  assert.equal(telemetry.open(sealed, "dev-1:7"), "heart rate 71");
  assert.notEqual(telemetry.seal("heart rate 71", "dev-1:7"), sealed, "a fresh IV every time");
  assert.throws(
    () => telemetry.open(sealed, "dev-2:7"),
    (e: unknown) => isVigilError(e, "KEY_VAULT_UNAVAILABLE"),
  );
  assert.throws(() => fields.field("Bad Name"));
  const other = await fields.field("webhooks");
  assert.throws(
    () => other.open(sealed, "dev-1:7"),
    (e: unknown) => isVigilError(e, "KEY_VAULT_UNAVAILABLE"),
  );
  const bytes = telemetry.sealBytes(Buffer.from([1, 2, 3]), "x");
  bytes[bytes.length - 1]! ^= 1;
  assert.throws(
    () => telemetry.openBytes(bytes, "x"),
    (e: unknown) => isVigilError(e, "KEY_VAULT_UNAVAILABLE"),
  );
  assert.equal((await fields.field("telemetry")) === telemetry, true, "one data key per table, cached");
  await store.close();
});

test("rotation re-wraps vault items and data keys; an interrupted rotation resumes on open; the old key then opens nothing", async () => {
  const { dir, store, clock } = setup();
  const file = join(dir, "keys", "master.key");
  const ring = await openMasterKeyRing(file, { create: true });
  const vault = new SealedFileVault(join(dir, "keys"), ring);
  await vault.put("ca-key", "-----BEGIN PRIVATE KEY----- secret");
  const fields = new SealedFields(ring, store.dataKeys, clock);
  const sealed = (await fields.field("operator_mfa")).seal("TOTPSECRET", "op_1");
  const oldKey = readFileSync(file);

  // Simulate a crash after the next key was written and one item re-wrapped.
  const next = await FileMasterKey.open(nextKeyFile(file), { create: true });
  ring.promote(next);
  await vault.rewrapAll();
  const resumed = await openMasterKeyRing(file, { create: false });
  assert.equal(resumed.rotating, true);
  assert.equal(resumed.keyId, next.keyId);
  const vault2 = new SealedFileVault(join(dir, "keys"), resumed);
  const fields2 = new SealedFields(resumed, store.dataKeys, clock);
  assert.equal(await vault2.get("ca-key"), "-----BEGIN PRIVATE KEY----- secret", "readable mid-rotation");
  const result = await rotateMasterKey({ file, ring: resumed, vault: vault2, dataKeys: fields2 });
  assert.equal(result.masterKeyId, next.keyId);
  assert.equal(result.dataKeys, 1);
  assert.equal(existsSync(nextKeyFile(file)), false);
  assert.notDeepEqual(readFileSync(file), oldKey);

  const reopened = await openMasterKeyRing(file, { create: false });
  assert.equal(reopened.rotating, false);
  assert.equal(await new SealedFileVault(join(dir, "keys"), reopened).get("ca-key"), "-----BEGIN PRIVATE KEY----- secret");
  assert.equal(
    (await new SealedFields(reopened, store.dataKeys, clock).field("operator_mfa")).open(sealed, "op_1"),
    "TOTPSECRET",
  );

  const oldFile = join(dir, "old.key");
  (await import("node:fs")).writeFileSync(oldFile, oldKey);
  const old = await FileMasterKey.open(oldFile, { create: false });
  await assert.rejects(new SealedFileVault(join(dir, "keys"), old).get("ca-key"), (e: unknown) =>
    isVigilError(e, "KEY_VAULT_UNAVAILABLE"),
  );
  await assert.rejects(new SealedFields(old, store.dataKeys, clock).field("operator_mfa"), (e: unknown) =>
    isVigilError(e, "KEY_VAULT_UNAVAILABLE"),
  );
  await store.close();
});
