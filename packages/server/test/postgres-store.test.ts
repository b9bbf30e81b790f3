// The engine-neutral repository suite against the real PostgreSQL (a fresh database per
// test), plus what only PostgreSQL has: connection errors, migrations raced by several nodes,
// a schema from a newer Vigil, and exclusion across nodes (job lock, audit appends).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pino } from "pino";
import { InProcessBus, ManualClock, isVigilError, type Millis } from "../src/core/index.js";
import { GENESIS_HASH, auditEntryHash } from "../src/identity/index.js";
import { AuditLog, verifyAuditLog, type AuditEntry } from "../src/audit/index.js";
import type { SignalMap } from "../src/signals/index.js";
import { openPostgresStore, postgresLatestVersion, redactPostgresUrl } from "../src/store/index.js";
import { repositorySuite } from "../src/store/repository-suite.js";
import { execOn, freshDatabase, needPostgres, type FreshDatabase } from "./postgres-support.js";

const log = pino({ level: "silent" });
const databases: FreshDatabase[] = [];
after(async () => {
  for (const db of databases) await db.drop().catch(() => undefined);
});

async function fresh(): Promise<FreshDatabase> {
  const db = await freshDatabase();
  databases.push(db);
  return db;
}

repositorySuite("postgres", async (t) => {
  if (!(await needPostgres(t))) return undefined;
  const db = await fresh();
  const store = await openPostgresStore({ url: db.url }, log);
  return {
    store,
    exec: async (sql: string) => {
      await execOn(db.url, sql);
    },
    reopen: async () => {
      await store.close();
      return openPostgresStore({ url: db.url }, log);
    },
  };
});

test("postgres: an unreachable server is STORE_UNREACHABLE, naming the redacted URL", async (t) => {
  if (!(await needPostgres(t))) return;
  await assert.rejects(
    openPostgresStore({ url: "postgres://vigil:s3cret@127.0.0.1:1/vigil", connectTimeoutMs: 2000 }, log),
    (e: unknown) =>
      isVigilError(e, "STORE_UNREACHABLE") &&
      e.message.includes("postgres://vigil:***@127.0.0.1:1/vigil") &&
      !e.message.includes("s3cret") &&
      /pg_isready/.test(e.hint ?? ""),
  );
});

test("postgres: an unknown user is STORE_AUTH_FAILED; a missing database is STORE_DATABASE_MISSING", async (t) => {
  if (!(await needPostgres(t))) return;
  const base = new URL((await fresh()).url);
  const noUser = new URL(base);
  noUser.username = "no_such_vigil_role";
  noUser.password = "hunter2";
  await assert.rejects(
    openPostgresStore({ url: noUser.toString() }, log),
    (e: unknown) => isVigilError(e, "STORE_AUTH_FAILED") && !e.message.includes("hunter2") && /passwordFile/.test(e.hint ?? ""),
  );
  const noDb = new URL(base);
  noDb.pathname = "/vigil_no_such_database";
  await assert.rejects(
    openPostgresStore({ url: noDb.toString() }, log),
    (e: unknown) => isVigilError(e, "STORE_DATABASE_MISSING") && /CREATE DATABASE/.test(e.hint ?? ""),
  );
  const dir = mkdtempSync(join(tmpdir(), "vigil-pg-pw-"));
  writeFileSync(join(dir, "password"), "only-the-first-line\nignored\n", { mode: 0o600 });
  const withFile = await openPostgresStore({ url: base.toString(), passwordFile: join(dir, "password") }, log);
  assert.equal(await withFile.devices.count(), 0, "a readable password file connects (the server here trusts loopback)");
  await withFile.close();
  rmSync(dir, { recursive: true, force: true });
  await assert.rejects(
    openPostgresStore({ url: base.toString(), passwordFile: "/nonexistent/vigil-pg-password" }, log),
    (e: unknown) => isVigilError(e, "STORE_AUTH_FAILED") && e.message.includes("/nonexistent/vigil-pg-password"),
  );
});

test("postgres: passwords never show in the store's location", () => {
  assert.equal(redactPostgresUrl("postgres://vigil:p%40ss@db.example:5432/vigil"), "postgres://vigil:***@db.example:5432/vigil");
  assert.equal(
    redactPostgresUrl("postgres://vigil@db/vigil?password=x&sslmode=require"),
    "postgres://vigil@db/vigil?password=***&sslmode=require",
  );
  assert.equal(redactPostgresUrl("not a url"), "postgres://[unparseable URL]");
});

test("postgres: five nodes starting at once migrate exactly once and share the data", async (t) => {
  if (!(await needPostgres(t))) return;
  const db = await fresh();
  const stores = await Promise.all(
    Array.from({ length: 5 }, () =>
      openPostgresStore({ url: db.url.replace("postgres://postgres@", "postgres://postgres:pw@") }, log),
    ),
  );
  try {
    const { rows } = await execOn(
      db.url,
      "SELECT version, COUNT(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version",
    );
    assert.deepEqual(
      rows.map((r) => [r.version, r.n]),
      Array.from({ length: postgresLatestVersion }, (_, i) => [i + 1, 1]),
    );
    assert.ok(stores.every((s) => s.location.includes(":***@")));
    await stores[0]?.devices.insert({ ...(await sampleDevice()) });
    for (const s of stores) assert.equal(await s.devices.count(), 1);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});

test("postgres: a schema from a newer Vigil is refused with STORE_TOO_NEW and left untouched", async (t) => {
  if (!(await needPostgres(t))) return;
  const db = await fresh();
  const store = await openPostgresStore({ url: db.url }, log);
  await store.devices.insert(await sampleDevice());
  await store.close();
  await execOn(db.url, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from-the-future', 0)", [
    postgresLatestVersion + 3,
  ]);
  await assert.rejects(
    openPostgresStore({ url: db.url }, log),
    (e: unknown) => isVigilError(e, "STORE_TOO_NEW") && e.message.includes(String(postgresLatestVersion + 3)),
  );
  const { rows } = await execOn(db.url, "SELECT COUNT(*)::int AS n FROM devices");
  assert.equal(rows[0]?.n, 1, "nothing already stored was lost");
});

test("postgres: a job runs on one node at a time across two nodes sharing the database", async (t) => {
  if (!(await needPostgres(t))) return;
  const db = await fresh();
  const a = await openPostgresStore({ url: db.url }, log);
  const b = await openPostgresStore({ url: db.url }, log);
  try {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    const onA = a.jobs.tryRun("campaign-waves", async () => {
      started = true;
      await gate;
      return "a";
    });
    for (let i = 0; i < 100 && !started; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(started);
    const results = await Promise.all([1, 2, 3].map(() => b.jobs.tryRun("campaign-waves", async () => "b")));
    assert.deepEqual(results, [{ ran: false }, { ran: false }, { ran: false }]);
    release();
    assert.deepEqual(await onA, { ran: true, value: "a" });
    assert.deepEqual(await b.jobs.tryRun("campaign-waves", async () => "b"), { ran: true, value: "b" });
  } finally {
    await a.close();
    await b.close();
  }
});

test("postgres: two nodes appending with the same head: one batch wins whole, the chain stays linear", async (t) => {
  if (!(await needPostgres(t))) return;
  const db = await fresh();
  const a = await openPostgresStore({ url: db.url }, log);
  const b = await openPostgresStore({ url: db.url }, log);
  try {
    const base = chain(1, 3, GENESIS_HASH, "a");
    await a.audit.appendBatch(base);
    const head = base[2]?.hash ?? "";
    const fromA = chain(4, 50, head, "a");
    const fromB = chain(4, 50, head, "b");
    const results = await Promise.allSettled([a.audit.appendBatch(fromA), b.audit.appendBatch(fromB)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const loser = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(isVigilError(loser.reason, "STORE_CONFLICT"));
    const stored = await b.audit.range(1, 1000);
    assert.equal(stored.length, 53);
    const actors = new Set(stored.slice(3).map((e) => e.actor));
    assert.equal(actors.size, 1, "no interleaving of the two batches");
    let prev = GENESIS_HASH;
    for (const e of stored) {
      assert.equal(e.prevHash, prev);
      prev = e.hash;
    }
  } finally {
    await a.close();
    await b.close();
  }
});

test("postgres: two nodes' audit logs on one database write one intact chain, each continuing after the other", async (t) => {
  if (!(await needPostgres(t))) return;
  const db = await fresh();
  const stores = [await openPostgresStore({ url: db.url }, log), await openPostgresStore({ url: db.url }, log)];
  // Each node has its own checkpoint key (in its own data directory).
  const keysOfNode = () => {
    let pem: string | undefined;
    return {
      location: "memory",
      load: async () => pem,
      save: async (privateKeyPem: string) => {
        pem = privateKeyPem;
      },
    };
  };
  const nodes = stores.map((store) => {
    const bus = new InProcessBus<SignalMap>();
    const audit = new AuditLog({
      repository: store.audit,
      bus,
      clock: new ManualClock(),
      log,
      keys: keysOfNode(),
      checkpointEvery: 25,
    });
    return { bus, audit };
  });
  try {
    for (const n of nodes) await n.audit.start();
    for (let round = 0; round < 10; round++) {
      nodes.forEach((n, i) => {
        for (let k = 0; k < 5; k++)
          n.bus.emit("device.registered", { device: `n${i}-r${round}-${k}`, profile: null, by: `node-${i}` });
      });
      // Both nodes flush at once: one of them finds its seqs taken and continues after the other.
      await Promise.all(nodes.map((n) => n.audit.flush()));
    }
    for (const n of nodes) await n.audit.stop();
    const stored = await stores[0]!.audit.range(1, 10_000);
    const registered = stored.filter((e) => e.action === "device.registered");
    assert.equal(registered.length, 100, "no entry of either node lost");
    assert.deepEqual(
      stored.map((e) => e.seq),
      stored.map((_, i) => i + 1),
    );
    const report = await verifyAuditLog(stores[1]!.audit);
    assert.equal(report.problem, null);
    assert.equal(report.entries, stored.length);
    assert.ok(report.checkpoints >= 4, `checkpoints signed by both nodes verify (${report.checkpoints})`);
    assert.equal(report.keys.length, 2, "both nodes' keys are recorded and used");
  } finally {
    for (const s of stores) await s.close();
  }
});

test("postgres: one claim token presented to two nodes at once enrolls exactly one device", async (t) => {
  if (!(await needPostgres(t))) return;
  const db = await fresh();
  const a = await openPostgresStore({ url: db.url }, log);
  const b = await openPostgresStore({ url: db.url }, log);
  try {
    const { newDeviceRecord } = await import("../src/identity/index.js");
    await a.enrollmentTokens.insertMany([
      {
        id: "tok-shared",
        secretHash: "h",
        profile: "sensor",
        deviceId: null,
        createdAt: 1 as Millis,
        expiresAt: 10_000 as Millis,
        usedAt: null,
        usedByDevice: null,
        createdBy: "admin",
      },
    ]);
    const enroll = (store: typeof a, id: string) =>
      store.enrollments.recordEnrollment({
        device: newDeviceRecord({ id: id as never, state: "active", createdAt: 2 as Millis }),
        completesPending: false,
        certificate: {
          serial: `serial-${id}`,
          deviceId: id as never,
          subject: `CN=${id}`,
          notBefore: 1 as Millis,
          notAfter: 9_999 as Millis,
          keySha256: id,
          pem: "PEM",
          issuedAt: 2 as Millis,
          revokedAt: null,
          revocationReason: null,
        },
        tokenId: "tok-shared",
        at: 2 as Millis,
      });
    const results = await Promise.allSettled([enroll(a, "node-a-device"), enroll(b, "node-b-device")]);
    assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
    const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(isVigilError(refused.reason, "ENROLLMENT_TOKEN_REPLAYED"));
    assert.equal(await a.devices.count(), 1, "the refused device left no row");
    const used = await b.enrollmentTokens.get("tok-shared");
    assert.ok(used?.usedByDevice === "node-a-device" || used?.usedByDevice === "node-b-device");
    assert.ok((await a.certificates.get(`serial-${used.usedByDevice}`)) !== undefined);
  } finally {
    await a.close();
    await b.close();
  }
});

function chain(from: number, n: number, prevHash: string, actor: string): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (let seq = from; seq < from + n; seq++) {
    const e = { seq, at: seq as Millis, actor, action: "x", target: null, outcome: "success", details: "{}", prevHash };
    const hash = auditEntryHash(e);
    out.push({ ...e, hash });
    prevHash = hash;
  }
  return out;
}

async function sampleDevice() {
  const { newDeviceRecord } = await import("../src/identity/index.js");
  return newDeviceRecord({ id: "shared-1" as never, createdAt: 1 as Millis });
}
