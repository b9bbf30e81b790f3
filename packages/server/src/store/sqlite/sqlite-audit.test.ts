// SQLite-only audit behaviour (the offline snapshot of the file); the engine-neutral audit
// repository tests are in ../repository-suite.ts.
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
