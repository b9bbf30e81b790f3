import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isVigilError } from "../../core/index.js";
import {
  GENESIS_HASH,
  auditEntryHash,
  auditKeyId,
  canonicalJson,
  generateAuditSigningKey,
  loadAuditSigningKey,
  vaultSigningKeyStore,
  verifyCheckpointSignature,
} from "./audit-signing.js";
import { FileMasterKey, SealedFileVault } from "./key-vault.js";

test("canonical JSON (RFC 8785): sorted keys at every depth, no whitespace, undefined dropped, non-finite refused", () => {
  assert.equal(
    canonicalJson({ b: 1, a: [true, null, { d: "x", c: undefined, "€": 2, Z: 0.5 }] }),
    '{"a":[true,null,{"Z":0.5,"d":"x","€":2}],"b":1}',
  );
  assert.equal(canonicalJson("é\n"), '"é\\n"');
  assert.throws(() => canonicalJson({ n: Number.NaN }), TypeError);
  assert.throws(() => canonicalJson({ n: 1n }), TypeError);
});

const entry = {
  seq: 1,
  at: 1_767_225_600_000,
  actor: "admin",
  action: "device.registered",
  target: "meter-7",
  outcome: "success",
  details: canonicalJson({ device: "meter-7", profile: "smart-meter", by: "admin" }),
  prevHash: GENESIS_HASH,
};

test("an entry's hash is SHA-256 of the canonical JSON of its fields and prevHash (the format verifiers rely on)", () => {
  const expected = createHash("sha256")
    .update(canonicalJson({ ...entry, details: JSON.parse(entry.details) as unknown }))
    .digest("hex");
  assert.equal(auditEntryHash(entry), expected);
  // A fixed vector, computed independently (Python: json.dumps(sort_keys=True, separators=(",", ":")) + hashlib.sha256).
  // Changing the format breaks every recorded log, so it fails here first.
  assert.equal(auditEntryHash(entry), "ec4d7774d248808b1814193fc070d3374f450fd7489d99cb29ee2ae42b091d80");
  assert.notEqual(auditEntryHash({ ...entry, target: null }), auditEntryHash(entry));
  assert.notEqual(auditEntryHash({ ...entry, seq: 2 }), auditEntryHash(entry));
  assert.notEqual(auditEntryHash({ ...entry, prevHash: "1".repeat(64) }), auditEntryHash(entry));
  // Same object, other spelling of its details: still a change to what was recorded.
  assert.notEqual(
    auditEntryHash({ ...entry, details: ' {"by":"admin","device":"meter-7","profile":"smart-meter"}' }),
    auditEntryHash(entry),
  );
});

test("a checkpoint signature verifies with its public key only, and only for what was signed", () => {
  const pair = generateAuditSigningKey();
  const key = loadAuditSigningKey(pair.privateKeyPem, "test");
  assert.equal(key.keyId, auditKeyId(pair.publicKeyPem));
  const claim = { seq: 1000, hash: "ab".repeat(32), at: 1_767_225_600_000 };
  const signature = key.signCheckpoint(claim);
  assert.ok(verifyCheckpointSignature(pair.publicKeyPem, { ...claim, keyId: key.keyId }, signature));
  assert.ok(!verifyCheckpointSignature(pair.publicKeyPem, { ...claim, seq: 1001, keyId: key.keyId }, signature));
  assert.ok(!verifyCheckpointSignature(pair.publicKeyPem, { ...claim, hash: "cd".repeat(32), keyId: key.keyId }, signature));
  assert.ok(!verifyCheckpointSignature(pair.publicKeyPem, { ...claim, keyId: key.keyId }, Buffer.alloc(64).toString("base64")));
  const other = generateAuditSigningKey();
  assert.ok(!verifyCheckpointSignature(other.publicKeyPem, { ...claim, keyId: key.keyId }, signature));
  assert.ok(!verifyCheckpointSignature("not a key", { ...claim, keyId: key.keyId }, signature));
});

test("a signing key that is not Ed25519, or not a key at all, is AUDIT_KEY_INVALID", () => {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  assert.throws(
    () => loadAuditSigningKey(ec, "/x/audit-signing.pem"),
    (e: unknown) =>
      isVigilError(e, "AUDIT_KEY_INVALID") && e.message.includes("/x/audit-signing.pem") && /not Ed25519/.test(e.message),
  );
  assert.throws(
    () => loadAuditSigningKey("garbage", "f"),
    (e: unknown) => isVigilError(e, "AUDIT_KEY_INVALID"),
  );
});

test("the vault key store: nothing before the first save; the private key only sealed, the public key beside it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-audit-key-"));
  const keys = join(dir, "keys");
  const vault = new SealedFileVault(keys, await FileMasterKey.open(join(keys, "master.key"), { create: true }));
  const store = vaultSigningKeyStore(vault, "audit-signing", join(keys, "audit-signing.pub.pem"));
  assert.equal(await store.load(), undefined);
  const pair = generateAuditSigningKey();
  await store.save(pair.privateKeyPem, pair.publicKeyPem);
  assert.equal(await store.load(), pair.privateKeyPem);
  assert.equal(statSync(keys).mode & 0o777, 0o700);
  assert.equal(readFileSync(join(keys, "audit-signing.pub.pem"), "utf8"), pair.publicKeyPem);
  for (const file of readdirSync(keys)) {
    assert.doesNotMatch(readFileSync(join(keys, file), "utf8"), /PRIVATE KEY/, `${file} holds the private key in plaintext`);
  }
  // Another master key cannot open it.
  const other = new SealedFileVault(keys, await FileMasterKey.open(join(dir, "other.key"), { create: true }));
  await assert.rejects(vaultSigningKeyStore(other, "audit-signing", join(keys, "audit-signing.pub.pem")).load(), (e: unknown) =>
    isVigilError(e, "KEY_VAULT_UNAVAILABLE"),
  );
});
