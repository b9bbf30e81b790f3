import Database from "better-sqlite3";
import { VigilError, type Logger } from "../../core/index.js";
import type { EnrollmentLedger, EnrollmentTokenRepository, ManufacturerRepository } from "../../enrollment/index.js";
import type { CertificateRepository, DataKeyRepository, DeviceRepository } from "../../identity/index.js";
import type { MfaRepository, OperatorRepository, SessionRepository, TokenRepository } from "../../operators/index.js";
import type { JobLock, Store } from "../ports.js";
import { InProcessJobLock } from "../job-lock.js";
import { sqliteCode } from "./sql-errors.js";
import { SqliteAudit } from "./sqlite-audit.js";
import {
  SqliteCertificates,
  SqliteDevices,
  SqliteEnrollmentLedger,
  SqliteEnrollmentTokens,
  SqliteManufacturers,
} from "./sqlite-identity.js";
import { latestVersion, migrations } from "./migrations.js";
import { SqliteDataKeys, SqliteMfa, SqliteOperators, SqliteSessions, SqliteTokens } from "./sqlite-operators.js";
import { SqliteTrust } from "./sqlite-trust.js";
import { SqliteOta } from "./sqlite-ota.js";
import { SqliteAssessment } from "./sqlite-assessment.js";
import { SqliteLegacyCredentials } from "./sqlite-legacy-credentials.js";
import { SqliteDeadLetters, SqliteIncidents } from "./sqlite-incidents.js";
import { SqliteDrills } from "./sqlite-drills.js";
import { SqliteReadmissions } from "./sqlite-readmissions.js";

type Db = Database.Database;

/** SQLite result codes that mean "this file is not (or no longer) a sound database". */
const CORRUPT_CODES = new Set(["SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_CORRUPT_VTAB", "SQLITE_IOERR_SHORT_READ"]);

function corrupt(file: string, cause: unknown, detail?: string): VigilError {
  return new VigilError(
    "STORE_CORRUPT",
    `database file ${file} is damaged or is not a Vigil database${detail ? ` (${detail})` : ""}`,
    {
      cause,
      hint: `Vigil left the file untouched. Restore ${file} from a backup, or move it aside to start with an empty store.`,
    },
  );
}

/**
 * Opens (creating if absent) the SQLite store at `file`: checks integrity before writing
 * anything, switches to WAL with synchronous=FULL (an acknowledged write survives kill -9
 * and power loss), and applies pending migrations.
 */
export interface SqliteOptions {
  /**
   * WAL `synchronous` level. "normal": a commit survives a crash or kill -9 of Vigil (the WAL
   * is written before the commit returns) but the last commits may roll back if the machine
   * itself loses power; "full": every commit is fsynced, surviving power loss, at the cost of
   * an fsync that blocks the event loop on each commit (see docs/adr/0003-store-durability.md).
   */
  readonly synchronous: "normal" | "full";
}

export function openSqliteStore(file: string, log: Logger, options: SqliteOptions = { synchronous: "full" }): Store {
  let db: Db;
  try {
    db = new Database(file, { fileMustExist: false });
  } catch (error) {
    throw new VigilError("DATA_DIR_UNUSABLE", `cannot open database file ${file}: ${(error as Error).message}`, {
      cause: error,
      hint: "Check that the data directory is writable by the user running Vigil.",
    });
  }
  try {
    // Read-only check first: nothing is written to a file we do not recognise.
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw corrupt(file, undefined, String(check));
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrate(db, file, log);
  } catch (error) {
    db.close();
    if (error instanceof VigilError) throw error;
    const code = sqliteCode(error);
    if (code !== undefined && CORRUPT_CODES.has(code)) throw corrupt(file, error, code);
    if (code === "SQLITE_READONLY" || code === "SQLITE_CANTOPEN" || code?.startsWith("SQLITE_IOERR")) {
      throw new VigilError("DATA_DIR_UNUSABLE", `cannot write database file ${file} (${code})`, {
        cause: error,
        hint: "Check the permissions of the data directory and the free disk space.",
      });
    }
    throw error;
  }
  return new SqliteStore(db, file);
}

function migrate(db: Db, file: string, log: Logger): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT",
  );
  const current = (db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").get() as { v: number }).v;
  if (current > latestVersion) {
    throw new VigilError(
      "STORE_TOO_NEW",
      `database ${file} is at schema version ${current}, this Vigil knows up to ${latestVersion}`,
      {
        hint: "Run the newer Vigil that wrote it, or restore a backup made by this version.",
      },
    );
  }
  const applied = new Set(
    (db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version),
  );
  const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    try {
      db.transaction(() => {
        db.exec(migration.sql);
        record.run(migration.version, migration.name, Date.now());
      }).immediate();
    } catch (error) {
      throw new VigilError(
        "STORE_MIGRATION_FAILED",
        `migration ${migration.version} (${migration.name}) failed on ${file}: ${(error as Error).message}`,
        { cause: error, hint: "The database was left at its previous version. Report this with the log." },
      );
    }
    log.info({ version: migration.version, name: migration.name }, "migration applied");
  }
}

class SqliteStore implements Store {
  readonly engine = "sqlite" as const;
  readonly location: string;
  readonly operators: OperatorRepository;
  readonly tokens: TokenRepository;
  readonly mfa: MfaRepository;
  readonly sessions: SessionRepository;
  readonly dataKeys: DataKeyRepository;
  readonly devices: DeviceRepository;
  readonly certificates: CertificateRepository;
  readonly manufacturers: ManufacturerRepository;
  readonly enrollmentTokens: EnrollmentTokenRepository;
  readonly enrollments: EnrollmentLedger;
  readonly audit: SqliteAudit;
  readonly trust: SqliteTrust;
  readonly ota: SqliteOta;
  readonly assessment: SqliteAssessment;
  readonly legacyCredentials: SqliteLegacyCredentials;
  readonly incidents: SqliteIncidents;
  readonly deadLetters: SqliteDeadLetters;
  readonly jobs: JobLock = new InProcessJobLock();
  readonly readmissions: SqliteReadmissions;
  readonly drills: SqliteDrills;
  readonly #db: Db;

  constructor(db: Db, file: string) {
    this.#db = db;
    this.location = file;
    this.operators = new SqliteOperators(db);
    this.tokens = new SqliteTokens(db);
    this.mfa = new SqliteMfa(db);
    this.sessions = new SqliteSessions(db);
    this.dataKeys = new SqliteDataKeys(db);
    this.devices = new SqliteDevices(db);
    this.certificates = new SqliteCertificates(db);
    this.manufacturers = new SqliteManufacturers(db);
    this.enrollmentTokens = new SqliteEnrollmentTokens(db);
    this.enrollments = new SqliteEnrollmentLedger(db);
    this.audit = new SqliteAudit(db);
    this.trust = new SqliteTrust(db);
    this.ota = new SqliteOta(db);
    this.assessment = new SqliteAssessment(db);
    this.legacyCredentials = new SqliteLegacyCredentials(db);
    this.incidents = new SqliteIncidents(db);
    this.deadLetters = new SqliteDeadLetters(db);
    this.readmissions = new SqliteReadmissions(db);
    this.drills = new SqliteDrills(db);
  }

  async schemaVersion(): Promise<number> {
    return (this.#db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").get() as { v: number }).v;
  }

  async close(): Promise<void> {
    if (!this.#db.open) return;
    // Fold the WAL back into the main file so a clean shutdown leaves one self-contained file.
    this.#db.pragma("wal_checkpoint(TRUNCATE)");
    this.#db.close();
  }
}
