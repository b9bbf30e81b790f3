// SQLite-only behaviour (file damage, migrations of the file); what every engine must do is in
// ../repository-suite.ts, run by sqlite-repository.test.ts and test/postgres-store.test.ts.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { pino } from "pino";
import { isVigilError, type DeviceId, type Millis } from "../../core/index.js";
import { newDeviceRecord } from "../../identity/index.js";
import { openSqliteStore } from "./sqlite-store.js";
import { latestVersion, migrations } from "./migrations.js";

const log = pino({ level: "silent" });
const dir = () => mkdtempSync(join(tmpdir(), "vigil-store-"));

function device(id: string, state: "pending" | "active" = "pending") {
  return newDeviceRecord({ id: id as DeviceId, profile: "sensor", state, createdAt: 1 as Millis });
}

test("migrations run once and are idempotent on reopen", async () => {
  const file = join(dir(), "vigil.db");
  const first = openSqliteStore(file, log);
  assert.equal(await first.schemaVersion(), latestVersion);
  await first.devices.insert(device("d1"));
  await first.close();
  const second = openSqliteStore(file, log);
  assert.equal(await second.schemaVersion(), latestVersion);
  assert.equal(await second.devices.count(), 1);
  await second.close();
  const raw = new Database(file, { readonly: true });
  const rows = raw.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[];
  raw.close();
  assert.deepEqual(
    rows.map((r) => r.version),
    migrations.map((m) => m.version).sort((a, b) => a - b),
  );
});

test("a file that is not a database gets STORE_CORRUPT naming it, and is left byte-for-byte untouched", async () => {
  const file = join(dir(), "vigil.db");
  const garbage = Buffer.from("this is not sqlite at all, just some bytes ".repeat(200));
  writeFileSync(file, garbage);
  assert.throws(
    () => openSqliteStore(file, log),
    (e: unknown) => isVigilError(e, "STORE_CORRUPT") && e.message.includes(file) && /untouched/.test(e.hint ?? ""),
  );
  assert.deepEqual(readFileSync(file), garbage);
});

test("a damaged database (overwritten pages) gets STORE_CORRUPT and is not rewritten", async () => {
  const d = dir();
  const file = join(d, "vigil.db");
  const store = openSqliteStore(file, log);
  for (let i = 0; i < 300; i++) await store.devices.insert(device(`dev-${String(i).padStart(4, "0")}`));
  await store.close();
  const bytes = readFileSync(file);
  // Keep the 100-byte header valid, scribble over the b-tree pages.
  for (let i = 4096; i < bytes.length; i += 7) bytes[i] = 0xa5;
  writeFileSync(file, bytes);
  const before = readFileSync(file);
  assert.throws(
    () => openSqliteStore(file, log),
    (e: unknown) => isVigilError(e, "STORE_CORRUPT") && e.message.includes(file),
  );
  assert.deepEqual(readFileSync(file), before);
  copyFileSync(file, join(d, "kept.db"));
});

test("a database from a newer Vigil is refused with STORE_TOO_NEW, not downgraded", async () => {
  const file = join(dir(), "vigil.db");
  await openSqliteStore(file, log).close();
  const raw = new Database(file);
  raw
    .prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from-the-future', 0)")
    .run(latestVersion + 5);
  raw.close();
  assert.throws(
    () => openSqliteStore(file, log),
    (e: unknown) => isVigilError(e, "STORE_TOO_NEW"),
  );
});
