import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { pino } from "pino";
import type { AuditEntry } from "../../audit/index.js";
import { isVigilError, type Millis } from "../../core/index.js";
import { GENESIS_HASH, auditEntryHash } from "../../identity/index.js";
import { openSqliteAuditSnapshot } from "./sqlite-audit.js";
import { openSqliteStore } from "./sqlite-store.js";

const log = pino({ level: "silent" });
const dir = () => mkdtempSync(join(tmpdir(), "vigil-audit-store-"));

function chain(from: number, n: number, prevHash: string): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (let seq = from; seq < from + n; seq++) {
    const e = {
      seq,
      at: (1000 + seq) as Millis,
      actor: "admin",
      action: "device.registered",
      target: `d-${seq}`,
      outcome: "success",
      details: `{"device":"d-${seq}"}`,
      prevHash,
    };
    const hash = auditEntryHash(e);
    out.push({ ...e, hash });
    prevHash = hash;
  }
  return out;
}

test("entries, checkpoints and keys round-trip; ranges are by seq", async () => {
  const store = openSqliteStore(join(dir(), "vigil.db"), log);
  const entries = chain(1, 25, GENESIS_HASH);
  await store.audit.appendBatch(entries.slice(0, 10));
  await store.audit.appendBatch(entries.slice(10));
  assert.equal(await store.audit.count(), 25);
  assert.deepEqual(await store.audit.last(), entries[24]);
  assert.deepEqual(await store.audit.range(5, 3), entries.slice(4, 7));
  assert.deepEqual(await store.audit.range(24, 100), entries.slice(23));
  await store.audit.appendCheckpoint({ seq: 25, hash: entries[24]?.hash ?? "", at: 5 as Millis, keyId: "k1", signature: "c2ln" });
  await store.audit.addKey({ id: "k1", algorithm: "ed25519", publicKey: "PEM", createdAt: 1 as Millis });
  await store.audit.addKey({ id: "k1", algorithm: "ed25519", publicKey: "PEM", createdAt: 1 as Millis });
  assert.deepEqual(await store.audit.checkpoints(), [
    { seq: 25, hash: entries[24]?.hash, at: 5, keyId: "k1", signature: "c2ln" },
  ]);
  assert.equal((await store.audit.keys()).length, 1, "adding a known key is a no-op");
  await store.close();
});

test("a batch is one transaction: a duplicate seq writes none of it and is STORE_CONFLICT", async () => {
  const store = openSqliteStore(join(dir(), "vigil.db"), log);
  const entries = chain(1, 5, GENESIS_HASH);
  await store.audit.appendBatch(entries.slice(0, 3));
  await assert.rejects(store.audit.appendBatch(entries.slice(2)), (e: unknown) => isVigilError(e, "STORE_CONFLICT"));
  assert.equal(await store.audit.count(), 3, "entries 4 and 5 were not written either");
  await store.close();
});

test("the audit tables refuse UPDATE and DELETE, even through raw SQL", async () => {
  const file = join(dir(), "vigil.db");
  const store = openSqliteStore(file, log);
  await store.audit.appendBatch(chain(1, 2, GENESIS_HASH));
  await store.audit.appendCheckpoint({ seq: 2, hash: "h", at: 1 as Millis, keyId: "k", signature: "s" });
  await store.close();
  const raw = new Database(file);
  for (const sql of [
    "UPDATE audit_entries SET actor = 'x' WHERE seq = 1",
    "DELETE FROM audit_entries WHERE seq = 1",
    "UPDATE audit_checkpoints SET hash = 'x'",
    "DELETE FROM audit_checkpoints",
    "INSERT INTO audit_keys VALUES ('k', 'ed25519', 'p', 1)",
  ]) {
    if (sql.startsWith("INSERT")) raw.exec(sql);
    else assert.throws(() => raw.exec(sql), /append-only/, sql);
  }
  assert.throws(() => raw.exec("DELETE FROM audit_keys"), /append-only/);
  raw.close();
});

test("the offline snapshot: a consistent read next to a running store, and a clean file read without leaving files behind", async () => {
  const d = dir();
  const file = join(d, "vigil.db");
  const store = openSqliteStore(file, log);
  const entries = chain(1, 6, GENESIS_HASH);
  await store.audit.appendBatch(entries.slice(0, 4));

  const live = openSqliteAuditSnapshot(file);
  assert.equal(live.mode, "live");
  assert.equal(await live.reader.count(), 4);
  await store.audit.appendBatch(entries.slice(4));
  assert.equal(await live.reader.count(), 4, "one snapshot: appends after it began are not seen");
  assert.equal((await live.reader.last())?.seq, 4);
  live.close();
  await store.close();

  const before = readdirSync(d).sort();
  assert.deepEqual(before, ["vigil.db"], "a clean stop leaves one file");
  const offline = openSqliteAuditSnapshot(file);
  assert.equal(offline.mode, "file");
  assert.deepEqual(await offline.reader.range(1, 100), entries);
  offline.close();
  assert.deepEqual(readdirSync(d).sort(), before, "reading wrote nothing into the data directory");
});

test("no database, or one without an audit log, is AUDIT_LOG_UNREADABLE", () => {
  const d = dir();
  assert.throws(
    () => openSqliteAuditSnapshot(join(d, "vigil.db")),
    (e: unknown) => isVigilError(e, "AUDIT_LOG_UNREADABLE"),
  );
  const other = new Database(join(d, "other.db"));
  other.exec("CREATE TABLE t (a)");
  other.close();
  assert.throws(
    () => openSqliteAuditSnapshot(join(d, "other.db")),
    (e: unknown) => isVigilError(e, "AUDIT_LOG_UNREADABLE") && /has no audit log/.test(e.message),
  );
  assert.equal(existsSync(join(d, "other.db-wal")), false);
});
