import type Database from "better-sqlite3";
import type { DeviceId } from "../../core/index.js";
import type { DeadLetter, DeadLetterRepository, Incident, IncidentRepository, IncidentState } from "../../response/index.js";

import { deadLetterParams, toDeadLetter, toIncident, type DeadLetterRow, type IncidentRow } from "../rows/incident-rows.js";

type Db = Database.Database;

/** Incidents (migration 10): indexed columns for queries, the whole incident as JSON. */
export class SqliteIncidents implements IncidentRepository {
  readonly #upsert;
  readonly #get;
  readonly #active;
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
    this.#upsert = db.prepare(
      `INSERT INTO incidents (id, device_id, state, severity, opened_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET state = excluded.state, severity = excluded.severity,
         updated_at = excluded.updated_at, body = excluded.body`,
    );
    this.#get = db.prepare("SELECT body FROM incidents WHERE id = ?");
    this.#active = db.prepare("SELECT body FROM incidents WHERE state IN ('open', 'contained', 'recovering') ORDER BY opened_at");
  }

  async save(i: Incident): Promise<void> {
    this.#upsert.run(i.id, i.device, i.state, i.severity, i.openedAt, i.updatedAt, JSON.stringify(i));
  }

  async get(id: string): Promise<Incident | undefined> {
    const row = this.#get.get(id) as IncidentRow | undefined;
    return row === undefined ? undefined : toIncident(row);
  }

  async listActive(): Promise<Incident[]> {
    return (this.#active.all() as IncidentRow[]).map(toIncident);
  }

  async list(query: { limit: number; state?: IncidentState | undefined; device?: DeviceId | undefined }): Promise<Incident[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.state !== undefined) {
      where.push("state = ?");
      args.push(query.state);
    }
    if (query.device !== undefined) {
      where.push("device_id = ?");
      args.push(query.device);
    }
    const sql = `SELECT body FROM incidents ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY opened_at DESC, id LIMIT ?`;
    return (this.#db.prepare(sql).all(...args, query.limit) as IncidentRow[]).map(toIncident);
  }
}

/** Dead letters of outgoing events (migration 10). */
export class SqliteDeadLetters implements DeadLetterRepository {
  readonly #insert;
  readonly #list;

  constructor(db: Db) {
    this.#insert = db.prepare(
      "INSERT OR REPLACE INTO response_dead_letters (id, at, sink, url, attempts, error, event) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.#list = db.prepare("SELECT * FROM response_dead_letters ORDER BY at DESC LIMIT ?");
  }

  async add(l: DeadLetter): Promise<void> {
    this.#insert.run(...deadLetterParams(l));
  }

  async list(limit: number): Promise<DeadLetter[]> {
    return (this.#list.all(limit) as DeadLetterRow[]).map(toDeadLetter);
  }
}
