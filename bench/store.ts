// Benchmark `store`: the hot repository operations on SQLite (a temp file, the default
// synchronous=normal) and on the local PostgreSQL (a fresh database), in one run, through the
// same `Store` interface the platform uses.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { AuditEntry } from "../packages/server/src/audit/index.js";
import {
  createRootLogger,
  type DeviceId,
  type Millis,
  type OperatorId,
  type TokenId,
} from "../packages/server/src/core/index.js";
import { GENESIS_HASH, auditEntryHash, newDeviceRecord, type CertificateRecord } from "../packages/server/src/identity/index.js";
import type { Scope } from "@vigil/contract";
import { openPostgresStore, openSqliteStore, type Store } from "../packages/server/src/store/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";
import type { Progress } from "./lib/progress.js";

export const title =
  "store: SQLite vs PostgreSQL on the hot repository operations (device insert/get, enrollment ledger, audit append, token lookup)";

const ADMIN_URL = process.env.VIGIL_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** Upper bound of operations per phase, whatever the duration. */
const MAX_OPS = 200_000;
const TOKENS = 1_000;
const AUDIT_BATCH = 100;

const OPERATIONS = [
  ["device_inserts", "`devices.insert` of a new device, `--connections` callers at once"],
  ["device_gets", "`devices.get` by id of an existing device (10,000 in the table)"],
  ["enrollments", "`enrollments.recordEnrollment`: device + certificate, group-committed, `--connections` at once"],
  ["audit_appends", "`audit.appendBatch` of one entry after the other (each its own commit: the latency-bound case)"],
  ["audit_batched_entries", `entries per second through \`audit.appendBatch\` in batches of ${AUDIT_BATCH}`],
  ["token_lookups", `\`tokens.findById\` of one of ${TOKENS} API tokens (every API request does one), \`--connections\` at once`],
] as const;

type Operation = (typeof OPERATIONS)[number][0];

export const about = `Each operation runs for \`--duration\` / 6 seconds (at least 1 s, at most ${MAX_OPS.toLocaleString("en")}
operations) on each engine, through the \`Store\` interface (the same code the platform runs), with \`--connections\`
concurrent callers where the platform has concurrent requests (default 20; PostgreSQL pool of 10 connections).
SQLite: a fresh file in a temp directory, WAL, \`synchronous=normal\` (the default \`store.synchronous\`).
PostgreSQL: the local server over TCP loopback (\`${ADMIN_URL.replace(/\/[^/]*$/, "/<fresh database>")}\`, override with
\`VIGIL_BENCH_POSTGRES_URL\`), a fresh database per run, default server settings (\`synchronous_commit=on\`: every commit
waits for the WAL flush).

${OPERATIONS.map(([name, what]) => `- \`<engine>_${name}_per_s\`: ${what}.`).join("\n")}
- ratios \`postgres_vs_sqlite_<operation>\`: PostgreSQL's rate over SQLite's (higher is better for PostgreSQL).

SQLite runs in-process and synchronously (no network, no fsync per commit with \`normal\`); PostgreSQL pays a loopback
round trip per statement and a WAL flush per commit, but is shared by every node of a cluster. Compare the absolute
per-second figures with the load one node needs (docs/store.md).`;

export function budgetSeconds({ duration }: { duration: number }): number {
  return 120 + 4 * duration;
}

export async function run({ duration, connections, progress, signal }: BenchOptions): Promise<BenchOutput> {
  const phaseMs = Math.max(1000, (duration * 1000) / OPERATIONS.length);
  const log = createRootLogger({ level: "silent" });
  const figures: Record<string, number> = {};
  const ratios: Record<string, number> = {};

  const dir = await mkdtemp(join(tmpdir(), "vigil-bench-store-"));
  try {
    const sqlite = openSqliteStore(join(dir, "vigil.db"), log, { synchronous: "normal" });
    try {
      Object.assign(figures, await measure("sqlite", sqlite, phaseMs, connections, progress, signal));
    } finally {
      await sqlite.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const name = `vigil_bench_${randomBytes(4).toString("hex")}`;
  await admin(`CREATE DATABASE ${name}`);
  try {
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    const postgres = await openPostgresStore({ url: url.toString() }, log);
    try {
      Object.assign(figures, await measure("postgres", postgres, phaseMs, connections, progress, signal));
    } finally {
      await postgres.close();
    }
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }

  for (const [op] of OPERATIONS) {
    const s = figures[`sqlite_${op}_per_s`] ?? 0;
    const p = figures[`postgres_${op}_per_s`] ?? 0;
    if (s > 0) ratios[`postgres_vs_sqlite_${op}`] = round(p / s, 3);
  }
  return { figures, ratios };
}

async function measure(
  engine: "sqlite" | "postgres",
  store: Store,
  phaseMs: number,
  connections: number,
  progress: Progress,
  signal: AbortSignal,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const record = (op: Operation, rate: number) => {
    out[`${engine}_${op}_per_s`] = round(rate, 0);
  };
  const summary = (rate: number) => `${Math.round(rate).toLocaleString("en")}/s`;

  let n = 0;
  const rate = await progress.phase(
    `${engine}: device inserts`,
    () =>
      loop(phaseMs, connections, signal, async () => {
        const i = n++;
        await store.devices.insert(newDeviceRecord({ id: `dev-${i}` as DeviceId, profile: "sensor", createdAt: i as Millis }));
      }),
    { summary },
  );
  record("device_inserts", rate);
  // Top up to a fixed table size so the lookups compare like with like.
  const have = await store.devices.count();
  for (let i = have; i < 10_000; i += 500) {
    await store.devices.insertMany(
      Array.from({ length: Math.min(500, 10_000 - i) }, (_, k) =>
        newDeviceRecord({ id: `fill-${i + k}` as DeviceId, createdAt: 0 as Millis }),
      ),
    );
  }
  const ids = Array.from({ length: 10_000 }, (_, i) => (i < have ? `dev-${i}` : `fill-${i}`) as DeviceId);
  let g = 0;
  record(
    "device_gets",
    await progress.phase(
      `${engine}: device gets`,
      () =>
        loop(phaseMs, connections, signal, async () => {
          const d = await store.devices.get(ids[g++ % ids.length] as DeviceId);
          if (d === undefined) throw new Error("device missing");
        }),
      { summary },
    ),
  );

  let e = 0;
  record(
    "enrollments",
    await progress.phase(
      `${engine}: enrollment ledger`,
      () =>
        loop(phaseMs, connections, signal, async () => {
          const i = e++;
          const id = `enr-${i}` as DeviceId;
          await store.enrollments.recordEnrollment({
            device: newDeviceRecord({ id, state: "active", profile: "sensor", createdAt: i as Millis, enrolledAt: i as Millis }),
            completesPending: false,
            certificate: certificate(`serial-${i}`, id, i),
            tokenId: null,
            at: i as Millis,
          });
        }),
      { summary },
    ),
  );

  let head = { seq: 0, hash: GENESIS_HASH };
  const nextEntries = (count: number): AuditEntry[] => {
    const entries: AuditEntry[] = [];
    for (let k = 0; k < count; k++) {
      const seq = head.seq + 1;
      const fields = {
        seq,
        at: seq as Millis,
        actor: "admin",
        action: "device.registered",
        target: `dev-${seq}`,
        outcome: "success",
        details: `{"device":"dev-${seq}"}`,
        prevHash: head.hash,
      };
      const entry = { ...fields, hash: auditEntryHash(fields) };
      entries.push(entry);
      head = { seq, hash: entry.hash };
    }
    return entries;
  };
  record(
    "audit_appends",
    await progress.phase(
      `${engine}: audit appends, one entry per commit`,
      () => loop(phaseMs, 1, signal, () => store.audit.appendBatch(nextEntries(1))),
      { summary },
    ),
  );
  record(
    "audit_batched_entries",
    (await progress.phase(
      `${engine}: audit appends, batches of ${AUDIT_BATCH}`,
      () => loop(phaseMs, 1, signal, () => store.audit.appendBatch(nextEntries(AUDIT_BATCH)), MAX_OPS / AUDIT_BATCH),
      { summary: (r) => summary(r * AUDIT_BATCH) },
    )) * AUDIT_BATCH,
  );

  await store.operators.insert({
    id: "op_bench" as OperatorId,
    username: "bench",
    passwordHash: "x",
    role: "admin",
    mustChangePassword: false,
    sites: ["*"],
    disabledAt: null,
    createdAt: 0 as Millis,
    updatedAt: 0 as Millis,
  });
  for (let i = 0; i < TOKENS; i++) {
    await store.tokens.insert({
      id: `tok_${i}` as TokenId,
      operatorId: "op_bench" as OperatorId,
      secretHash: "h".repeat(64),
      scopes: ["devices:read"] as unknown as Scope[],
      label: "bench",
      createdAt: 0 as Millis,
      expiresAt: 10_000_000_000_000 as Millis,
      revokedAt: null,
      mfa: true,
    });
  }
  let t = 0;
  record(
    "token_lookups",
    await progress.phase(
      `${engine}: token lookups`,
      () =>
        loop(phaseMs, connections, signal, async () => {
          if ((await store.tokens.findById(`tok_${t++ % TOKENS}` as TokenId)) === undefined) throw new Error("token missing");
        }),
      { summary },
    ),
  );
  return out;
}

/** `workers` callers of `op`, each awaiting its previous call, until `ms` pass or `maxOps` are done; returns ops/s. */
async function loop(
  ms: number,
  workers: number,
  signal: AbortSignal,
  op: () => Promise<void>,
  maxOps = MAX_OPS,
): Promise<number> {
  const start = performance.now();
  const deadline = start + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline && done < maxOps && !signal.aborted) {
        await op();
        done += 1;
      }
    }),
  );
  if (signal.aborted) throw signal.reason;
  return done / ((performance.now() - start) / 1000);
}

function certificate(serial: string, deviceId: DeviceId, i: number): CertificateRecord {
  return {
    serial,
    deviceId,
    subject: `CN=${deviceId}`,
    notBefore: i as Millis,
    notAfter: (i + 86_400_000) as Millis,
    keySha256: serial,
    pem: `-----BEGIN CERTIFICATE-----\n${"A".repeat(600)}\n-----END CERTIFICATE-----\n`,
    issuedAt: i as Millis,
    revokedAt: null,
    revocationReason: null,
  };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
