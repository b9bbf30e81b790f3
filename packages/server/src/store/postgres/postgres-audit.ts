import pg from "pg";
import type { QueryResult } from "pg";
import type { AuditCheckpoint, AuditEntry, AuditKeyRecord, AuditReader, AuditRepository } from "../../audit/index.js";
import type { Millis } from "../../core/index.js";
import { connectError, redactPostgresUrl } from "./postgres-connect.js";
import { conflict, isUniqueViolation, placeholders, vigilTypes, type Db } from "./postgres-db.js";
import { type EntryRow, type CheckpointRow, type KeyRow, toEntry } from "../rows/audit-rows.js";

/**
 * Key of the transaction-level advisory lock that serialises audit appends across every
 * node sharing the database ("VIGAUDIT" as a 64-bit number): batches commit one after the
 * other, in the order they took the lock, so the committed chain never interleaves.
 */
export const AUDIT_APPEND_LOCK = 0x5649474155444954n;

type Query = <R>(text: string, values?: readonly unknown[]) => Promise<QueryResult<R>>;

/** The read side, on the pool or on one read-only snapshot connection. */
class PostgresAuditReader implements AuditReader {
  readonly #q: Query;

  constructor(q: Query) {
    this.#q = q;
  }

  async last(): Promise<AuditEntry | undefined> {
    const { rows } = await this.#q<EntryRow>("SELECT * FROM audit_entries ORDER BY seq DESC LIMIT 1");
    return rows[0] && toEntry(rows[0]);
  }

  async range(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    const { rows } = await this.#q<EntryRow>("SELECT * FROM audit_entries WHERE seq >= $1 ORDER BY seq LIMIT $2", [
      fromSeq,
      limit,
    ]);
    return rows.map(toEntry);
  }

  async count(): Promise<number> {
    return (await this.#q<{ n: number }>("SELECT COUNT(*) AS n FROM audit_entries")).rows[0]?.n ?? 0;
  }

  async checkpoints(): Promise<AuditCheckpoint[]> {
    const { rows } = await this.#q<CheckpointRow>("SELECT * FROM audit_checkpoints ORDER BY seq");
    return rows.map((r) => ({ seq: r.seq, hash: r.hash, at: r.at as Millis, keyId: r.key_id, signature: r.signature }));
  }

  async keys(): Promise<AuditKeyRecord[]> {
    const { rows } = await this.#q<KeyRow>("SELECT * FROM audit_keys ORDER BY created_at, id");
    return rows.map((r) => ({ id: r.id, algorithm: "ed25519", publicKey: r.public_key, createdAt: r.created_at as Millis }));
  }
}

/** The audit tables (append-only: triggers refuse UPDATE, DELETE and TRUNCATE). */
export class PostgresAudit extends PostgresAuditReader implements AuditRepository {
  readonly #db: Db;

  constructor(db: Db) {
    super((text, values) => db.query(text, values));
    this.#db = db;
  }

  /** One transaction per batch (all durable at COMMIT, or none), one multi-row INSERT. */
  async appendBatch(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.#db.tx(async (client) => {
        await client.query("SELECT pg_advisory_xact_lock($1)", [AUDIT_APPEND_LOCK.toString()]);
        for (let i = 0; i < entries.length; i += 500) {
          const chunk = entries.slice(i, i + 500);
          const values: unknown[] = [];
          const rows: string[] = [];
          for (const e of chunk) {
            rows.push(`(${placeholders(9, values.length + 1)})`);
            values.push(e.seq, e.at, e.actor, e.action, e.target, e.outcome, e.details, e.prevHash, e.hash);
          }
          await client.query(
            `INSERT INTO audit_entries (seq, at, actor, action, target, outcome, details, prev_hash, hash) VALUES ${rows.join(", ")}`,
            values,
          );
        }
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`audit entry in seq ${entries[0]?.seq}..${entries.at(-1)?.seq}`, error);
      throw error;
    }
  }

  async appendCheckpoint(c: AuditCheckpoint): Promise<void> {
    try {
      await this.#db.query("INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5)", [
        c.seq,
        c.hash,
        c.at,
        c.keyId,
        c.signature,
      ]);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`audit checkpoint at seq ${c.seq}`, error);
      throw error;
    }
  }

  async addKey(k: AuditKeyRecord): Promise<void> {
    await this.#db.query(
      "INSERT INTO audit_keys (id, algorithm, public_key, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
      [k.id, k.algorithm, k.publicKey, k.createdAt],
    );
  }
}

export interface PostgresAuditSnapshot {
  readonly reader: AuditReader;
  close(): Promise<void>;
}

/**
 * The audit log of the database at `url`, read from one consistent snapshot (a REPEATABLE
 * READ, READ ONLY transaction on a connection of its own): appends committed by running
 * nodes meanwhile are not seen, and nothing is written.
 */
export async function openPostgresAuditSnapshot(url: string): Promise<PostgresAuditSnapshot> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, types: vigilTypes });
  try {
    await client.connect();
  } catch (error) {
    throw connectError(redactPostgresUrl(url), error);
  }
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const q: Query = (text, values = []) => client.query(text, values);
  return {
    reader: new PostgresAuditReader(q),
    close: async () => {
      await client.query("ROLLBACK").catch(() => undefined);
      await client.end();
    },
  };
}
