import Database from "better-sqlite3";
import type { Scope } from "@vigil/contract";
import { VigilError, type Logger, type Millis, type OperatorId, type TokenId } from "../../core/index.js";
import type { EnrollmentLedger, EnrollmentTokenRepository, ManufacturerRepository } from "../../enrollment/index.js";
import type { CertificateRepository, DeviceRepository } from "../../identity/index.js";
import type { OperatorRecord, OperatorRepository, Role, TokenRecord, TokenRepository } from "../../operators/index.js";
import type { Store } from "../ports.js";
import { conflict, isUniqueViolation, sqliteCode } from "./sql-errors.js";
import { SqliteAudit } from "./sqlite-audit.js";
import {
  SqliteCertificates,
  SqliteDevices,
  SqliteEnrollmentLedger,
  SqliteEnrollmentTokens,
  SqliteManufacturers,
} from "./sqlite-identity.js";
import { latestVersion, migrations } from "./migrations.js";

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

interface OperatorRow {
  id: string;
  username: string;
  password_hash: string;
  role: string;
  must_change_password: number;
  created_at: number;
  updated_at: number;
}

interface TokenRow {
  id: string;
  operator_id: string;
  secret_hash: string;
  scopes: string;
  label: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

class SqliteStore implements Store {
  readonly engine = "sqlite" as const;
  readonly location: string;
  readonly operators: OperatorRepository;
  readonly tokens: TokenRepository;
  readonly devices: DeviceRepository;
  readonly certificates: CertificateRepository;
  readonly manufacturers: ManufacturerRepository;
  readonly enrollmentTokens: EnrollmentTokenRepository;
  readonly enrollments: EnrollmentLedger;
  readonly audit: SqliteAudit;
  readonly #db: Db;

  constructor(db: Db, file: string) {
    this.#db = db;
    this.location = file;
    this.operators = new SqliteOperators(db);
    this.tokens = new SqliteTokens(db);
    this.devices = new SqliteDevices(db);
    this.certificates = new SqliteCertificates(db);
    this.manufacturers = new SqliteManufacturers(db);
    this.enrollmentTokens = new SqliteEnrollmentTokens(db);
    this.enrollments = new SqliteEnrollmentLedger(db);
    this.audit = new SqliteAudit(db);
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

class SqliteOperators implements OperatorRepository {
  readonly #count;
  readonly #byName;
  readonly #byId;
  readonly #insert;
  readonly #updatePassword;

  constructor(db: Db) {
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM operators");
    this.#byName = db.prepare("SELECT * FROM operators WHERE username = ?");
    this.#byId = db.prepare("SELECT * FROM operators WHERE id = ?");
    this.#insert = db.prepare(
      "INSERT INTO operators (id, username, password_hash, role, must_change_password, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.#updatePassword = db.prepare(
      "UPDATE operators SET password_hash = ?, must_change_password = ?, updated_at = ? WHERE id = ?",
    );
  }

  async count(): Promise<number> {
    return (this.#count.get() as { n: number }).n;
  }

  async findByUsername(username: string): Promise<OperatorRecord | undefined> {
    const row = this.#byName.get(username) as OperatorRow | undefined;
    return row && toOperator(row);
  }

  async findById(id: OperatorId): Promise<OperatorRecord | undefined> {
    const row = this.#byId.get(id) as OperatorRow | undefined;
    return row && toOperator(row);
  }

  async insert(r: OperatorRecord): Promise<void> {
    try {
      this.#insert.run(r.id, r.username, r.passwordHash, r.role, r.mustChangePassword ? 1 : 0, r.createdAt, r.updatedAt);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`operator ${r.username}`, error);
      throw error;
    }
  }

  async updatePassword(id: OperatorId, passwordHash: string, mustChangePassword: boolean, at: Millis): Promise<void> {
    this.#updatePassword.run(passwordHash, mustChangePassword ? 1 : 0, at, id);
  }
}

function toOperator(row: OperatorRow): OperatorRecord {
  return {
    id: row.id as OperatorId,
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role as Role,
    mustChangePassword: row.must_change_password === 1,
    createdAt: row.created_at as Millis,
    updatedAt: row.updated_at as Millis,
  };
}

class SqliteTokens implements TokenRepository {
  readonly #insert;
  readonly #byId;
  readonly #revoke;
  readonly #forOperator;

  constructor(db: Db) {
    this.#insert = db.prepare(
      "INSERT INTO api_tokens (id, operator_id, secret_hash, scopes, label, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#byId = db.prepare("SELECT * FROM api_tokens WHERE id = ?");
    this.#revoke = db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
    this.#forOperator = db.prepare("SELECT * FROM api_tokens WHERE operator_id = ? ORDER BY created_at");
  }

  async insert(r: TokenRecord): Promise<void> {
    try {
      this.#insert.run(
        r.id,
        r.operatorId,
        r.secretHash,
        JSON.stringify(r.scopes),
        r.label,
        r.createdAt,
        r.expiresAt,
        r.revokedAt,
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`token ${r.id}`, error);
      throw error;
    }
  }

  async findById(id: TokenId): Promise<TokenRecord | undefined> {
    const row = this.#byId.get(id) as TokenRow | undefined;
    return row && toToken(row);
  }

  async revoke(id: TokenId, at: Millis): Promise<boolean> {
    return this.#revoke.run(at, id).changes === 1;
  }

  async listForOperator(operatorId: OperatorId): Promise<TokenRecord[]> {
    return (this.#forOperator.all(operatorId) as TokenRow[]).map(toToken);
  }
}

function toToken(row: TokenRow): TokenRecord {
  return {
    id: row.id as TokenId,
    operatorId: row.operator_id as OperatorId,
    secretHash: row.secret_hash,
    scopes: JSON.parse(row.scopes) as Scope[],
    label: row.label,
    createdAt: row.created_at as Millis,
    expiresAt: row.expires_at as Millis,
    revokedAt: row.revoked_at as Millis | null,
  };
}
