import Database from "better-sqlite3";
import { existsSync, readFileSync } from "node:fs";
import type { AuditCheckpoint, AuditEntry, AuditKeyRecord, AuditReader, AuditRepository } from "../../audit/index.js";
import { VigilError, type Millis } from "../../core/index.js";
import { conflict, isUniqueViolation } from "./sql-errors.js";
import { type EntryRow, type CheckpointRow, type KeyRow, toEntry } from "../rows/audit-rows.js";

type Db = Database.Database;

function toCheckpoint(r: CheckpointRow): AuditCheckpoint {
  return { seq: r.seq, hash: r.hash, at: r.at as Millis, keyId: r.key_id, signature: r.signature };
}

function toKey(r: KeyRow): AuditKeyRecord {
  return { id: r.id, algorithm: "ed25519", publicKey: r.public_key, createdAt: r.created_at as Millis };
}

/** The read side, usable on a read-only connection. */
class SqliteAuditReader implements AuditReader {
  readonly #last;
  readonly #range;
  readonly #count;
  readonly #checkpoints;
  readonly #keys;

  constructor(db: Db) {
    this.#last = db.prepare("SELECT * FROM audit_entries ORDER BY seq DESC LIMIT 1");
    this.#range = db.prepare("SELECT * FROM audit_entries WHERE seq >= ? ORDER BY seq LIMIT ?");
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM audit_entries");
    this.#checkpoints = db.prepare("SELECT * FROM audit_checkpoints ORDER BY seq");
    this.#keys = db.prepare("SELECT * FROM audit_keys ORDER BY created_at, id");
  }

  async last(): Promise<AuditEntry | undefined> {
    const row = this.#last.get() as EntryRow | undefined;
    return row && toEntry(row);
  }

  async range(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    return (this.#range.all(fromSeq, limit) as EntryRow[]).map(toEntry);
  }

  async count(): Promise<number> {
    return (this.#count.get() as { n: number }).n;
  }

  async checkpoints(): Promise<AuditCheckpoint[]> {
    return (this.#checkpoints.all() as CheckpointRow[]).map(toCheckpoint);
  }

  async keys(): Promise<AuditKeyRecord[]> {
    return (this.#keys.all() as KeyRow[]).map(toKey);
  }
}

/** The audit tables of the SQLite store (migration 3). INSERT only: the tables' triggers refuse the rest. */
export class SqliteAudit extends SqliteAuditReader implements AuditRepository {
  readonly #appendBatch;
  readonly #appendCheckpoint;
  readonly #addKey;

  constructor(db: Db) {
    super(db);
    const insert = db.prepare(
      "INSERT INTO audit_entries (seq, at, actor, action, target, outcome, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    // One transaction per batch: all of it is durable at commit, or none of it.
    this.#appendBatch = db.transaction((entries: readonly AuditEntry[]) => {
      for (const e of entries) insert.run(e.seq, e.at, e.actor, e.action, e.target, e.outcome, e.details, e.prevHash, e.hash);
    });
    this.#appendCheckpoint = db.prepare(
      "INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)",
    );
    this.#addKey = db.prepare(
      "INSERT INTO audit_keys (id, algorithm, public_key, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
    );
  }

  async appendBatch(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      this.#appendBatch.immediate(entries);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`audit entry in seq ${entries[0]?.seq}..${entries.at(-1)?.seq}`, error);
      throw error;
    }
  }

  async appendCheckpoint(c: AuditCheckpoint): Promise<void> {
    try {
      this.#appendCheckpoint.run(c.seq, c.hash, c.at, c.keyId, c.signature);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`audit checkpoint at seq ${c.seq}`, error);
      throw error;
    }
  }

  async addKey(k: AuditKeyRecord): Promise<void> {
    this.#addKey.run(k.id, k.algorithm, k.publicKey, k.createdAt);
  }
}

export interface AuditSnapshot {
  readonly reader: AuditReader;
  /** `live`: read through SQLite's WAL next to a running (or crashed) Vigil; `file`: a copy of the file. */
  readonly mode: "live" | "file";
  close(): void;
}

/**
 * Opens the audit log of `file` for reading only, without a running Vigil, and without
 * writing to the data directory. Everything read comes from one consistent snapshot.
 *
 * - With a `-wal` file beside it (Vigil runs, or was killed), a read-only connection in one
 *   read transaction sees exactly the committed state, whatever Vigil appends meanwhile.
 * - Without one (Vigil stopped cleanly), the file is read into memory and opened from
 *   there: a read-only connection would otherwise leave `-wal`/`-shm` files behind, owned
 *   by whoever ran the verifier. The copy's header is switched from WAL to rollback mode
 *   (SQLite file format §1.3.3, bytes 18-19), which an in-memory database needs.
 */
export function openSqliteAuditSnapshot(file: string): AuditSnapshot {
  if (!existsSync(file)) {
    throw new VigilError("AUDIT_LOG_UNREADABLE", `no database at ${file}`, {
      hint: "Give the data directory of a Vigil with --data-dir (the database is <data-dir>/vigil.db).",
    });
  }
  let db: Db;
  let mode: AuditSnapshot["mode"];
  try {
    if (existsSync(`${file}-wal`)) {
      db = new Database(file, { readonly: true, fileMustExist: true });
      mode = "live";
    } else {
      const image = readFileSync(file);
      if (image.length >= 20 && image[18] === 2 && image[19] === 2) {
        image[18] = 1;
        image[19] = 1;
      }
      db = new Database(image, { readonly: true });
      mode = "file";
    }
  } catch (error) {
    throw unreadable(file, (error as Error).message, error);
  }
  try {
    db.pragma("busy_timeout = 5000");
    db.exec("BEGIN");
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('audit_entries', 'audit_checkpoints', 'audit_keys')",
      )
      .all() as { name: string }[];
    if (tables.length !== 3) {
      throw new VigilError("AUDIT_LOG_UNREADABLE", `${file} has no audit log`, {
        hint: "It was written by a Vigil older than the audit log, or it is not a Vigil database. If it had one, its tables were dropped.",
      });
    }
    const reader = new SqliteAuditReader(db);
    return {
      reader,
      mode,
      close: () => {
        if (!db.open) return;
        if (db.inTransaction) db.exec("ROLLBACK");
        db.close();
      },
    };
  } catch (error) {
    db.close();
    if (error instanceof VigilError) throw error;
    throw unreadable(file, (error as Error).message, error);
  }
}

function unreadable(file: string, why: string, cause: unknown): VigilError {
  return new VigilError("AUDIT_LOG_UNREADABLE", `cannot read the audit log in ${file}: ${why}`, {
    cause,
    hint: "Check that the file is a Vigil database and readable by you.",
  });
}
