import pg from "pg";
import type { Pool, PoolClient } from "pg";
import { VigilError, type Logger } from "../../core/index.js";
import type { JobLock, Store } from "../ports.js";
import { PostgresJobLock } from "./cluster-lock.js";
import { Db, vigilTypes } from "./postgres-db.js";
import { connectError, readPassword, redactPostgresUrl } from "./postgres-connect.js";
import { PostgresAudit } from "./postgres-audit.js";
import {
  PostgresCertificates,
  PostgresDevices,
  PostgresEnrollmentLedger,
  PostgresEnrollmentTokens,
  PostgresManufacturers,
} from "./postgres-identity.js";
import { PostgresDeadLetters, PostgresIncidents, PostgresLegacyCredentials } from "./postgres-incidents.js";
import { PostgresDataKeys, PostgresMfa, PostgresOperators, PostgresSessions, PostgresTokens } from "./postgres-operators.js";
import { PostgresOta } from "./postgres-ota.js";
import { PostgresAssessment } from "./postgres-assessment.js";
import { PostgresTrust } from "./postgres-trust.js";
import { PostgresDrills } from "./postgres-drills.js";
import { PostgresReadmissions } from "./postgres-readmissions.js";
import { postgresLatestVersion, postgresMigrations, type PostgresMigration } from "./migrations.js";

export interface PostgresOptions {
  /** `postgres://user[:password]@host[:port]/database[?...]` (node-postgres connection string). */
  readonly url: string;
  /** File holding the password (`store.passwordFile`, first line); overrides one in the URL. */
  readonly passwordFile?: string | undefined;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number | undefined;
  /** Give up connecting after this long (default 5 s): an unreachable server fails the start, it does not hang it. */
  readonly connectTimeoutMs?: number | undefined;
}

/**
 * Key of the session advisory lock held while migrating ("VIGMIGRA"): nodes starting together
 * queue on it, and each finds the migrations the first one applied already recorded.
 */
export const MIGRATION_LOCK = 0x5649474d49475241n;

/**
 * Connects to PostgreSQL, checks the schema version and applies pending migrations. Fails
 * with a specific code when the server is unreachable, refuses the credentials, lacks the
 * database, or holds a schema newer than this Vigil.
 */
export async function openPostgresStore(options: PostgresOptions, log: Logger): Promise<Store> {
  const location = redactPostgresUrl(options.url);
  const password = options.passwordFile === undefined ? undefined : await readPassword(options.passwordFile);
  const pool = new pg.Pool({
    connectionString: options.url,
    ...(password === undefined ? {} : { password }),
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: "vigil",
    types: vigilTypes,
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on("error", (error) => log.warn({ err: error.message, location }, "idle PostgreSQL connection lost"));
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw connectError(location, error);
  }
  try {
    await migrate(client, location, log);
  } catch (error) {
    client.release();
    await pool.end().catch(() => undefined);
    throw error;
  }
  client.release();
  return new PostgresStore(new Db(pool), location);
}

async function migrate(client: PoolClient, location: string, log: Logger): Promise<void> {
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK.toString()]);
  try {
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)",
    );
    const { rows } = await client.query<{ version: number }>("SELECT version FROM schema_migrations");
    const applied = new Set(rows.map((r) => r.version));
    const current = Math.max(0, ...applied);
    if (current > postgresLatestVersion) {
      throw new VigilError(
        "STORE_TOO_NEW",
        `database ${location} is at schema version ${current}, this Vigil knows up to ${postgresLatestVersion}`,
        {
          hint: "Run the newer Vigil that wrote it (every node of a cluster on one version), or restore a backup made by this version.",
        },
      );
    }
    for (const migration of postgresMigrations) {
      if (applied.has(migration.version)) continue;
      await apply(client, migration, location);
      log.info({ version: migration.version, name: migration.name }, "migration applied");
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK.toString()]).catch(() => undefined);
  }
}

async function apply(client: PoolClient, migration: PostgresMigration, location: string): Promise<void> {
  try {
    await client.query("BEGIN");
    await client.query(migration.sql);
    await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
      migration.version,
      migration.name,
      Date.now(),
    ]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw new VigilError(
      "STORE_MIGRATION_FAILED",
      `migration ${migration.version} (${migration.name}) failed on ${location}: ${(error as Error).message}`,
      { cause: error, hint: "The database was left at its previous version. Report this with the log." },
    );
  }
}

class PostgresStore implements Store {
  readonly engine = "postgres" as const;
  readonly location: string;
  readonly operators: PostgresOperators;
  readonly tokens: PostgresTokens;
  readonly mfa: PostgresMfa;
  readonly sessions: PostgresSessions;
  readonly dataKeys: PostgresDataKeys;
  readonly devices: PostgresDevices;
  readonly certificates: PostgresCertificates;
  readonly manufacturers: PostgresManufacturers;
  readonly enrollmentTokens: PostgresEnrollmentTokens;
  readonly enrollments: PostgresEnrollmentLedger;
  readonly audit: PostgresAudit;
  readonly trust: PostgresTrust;
  readonly ota: PostgresOta;
  readonly assessment: PostgresAssessment;
  readonly incidents: PostgresIncidents;
  readonly deadLetters: PostgresDeadLetters;
  readonly legacyCredentials: PostgresLegacyCredentials;
  readonly readmissions: PostgresReadmissions;
  readonly drills: PostgresDrills;
  readonly jobs: JobLock;
  readonly #db: Db;
  #closed = false;

  constructor(db: Db, location: string) {
    this.#db = db;
    this.location = location;
    this.operators = new PostgresOperators(db);
    this.tokens = new PostgresTokens(db);
    this.mfa = new PostgresMfa(db);
    this.sessions = new PostgresSessions(db);
    this.dataKeys = new PostgresDataKeys(db);
    this.devices = new PostgresDevices(db);
    this.certificates = new PostgresCertificates(db);
    this.manufacturers = new PostgresManufacturers(db);
    this.enrollmentTokens = new PostgresEnrollmentTokens(db);
    this.enrollments = new PostgresEnrollmentLedger(db);
    this.audit = new PostgresAudit(db);
    this.trust = new PostgresTrust(db);
    this.ota = new PostgresOta(db);
    this.assessment = new PostgresAssessment(db);
    this.incidents = new PostgresIncidents(db);
    this.deadLetters = new PostgresDeadLetters(db);
    this.legacyCredentials = new PostgresLegacyCredentials(db);
    this.readmissions = new PostgresReadmissions(db);
    this.drills = new PostgresDrills(db);
    this.jobs = new PostgresJobLock(db.pool);
  }

  /** The pool, for the cluster's job lock (store/postgres/cluster-lock.ts). */
  get pool(): Pool {
    return this.#db.pool;
  }

  async schemaVersion(): Promise<number> {
    const { rows } = await this.#db.query<{ v: number }>("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations");
    return rows[0]?.v ?? 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.pool.end();
  }
}
