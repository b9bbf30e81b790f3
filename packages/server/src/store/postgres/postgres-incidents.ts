import type { DeviceId, Millis } from "../../core/index.js";
import type { LegacyCredential, LegacyCredentialRepository } from "../../gateway/legacy-passwords.js";
import type { DeadLetter, DeadLetterRepository, Incident, IncidentRepository, IncidentState } from "../../response/index.js";
import type { Db } from "./postgres-db.js";
import { deadLetterParams, toDeadLetter, toIncident, type DeadLetterRow, type IncidentRow } from "../rows/incident-rows.js";

/** Incidents: indexed columns for queries, the whole incident as JSON text. */
export class PostgresIncidents implements IncidentRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async save(i: Incident): Promise<void> {
    await this.#db.query(
      `INSERT INTO incidents (id, device_id, state, severity, opened_at, updated_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, severity = excluded.severity,
         updated_at = excluded.updated_at, body = excluded.body`,
      [i.id, i.device, i.state, i.severity, i.openedAt, i.updatedAt, JSON.stringify(i)],
    );
  }

  async get(id: string): Promise<Incident | undefined> {
    const { rows } = await this.#db.query<IncidentRow>("SELECT body FROM incidents WHERE id = $1", [id]);
    return rows[0] && toIncident(rows[0]);
  }

  async listActive(): Promise<Incident[]> {
    const { rows } = await this.#db.query<IncidentRow>(
      "SELECT body FROM incidents WHERE state IN ('open', 'contained', 'recovering') ORDER BY opened_at",
    );
    return rows.map(toIncident);
  }

  async list(query: { limit: number; state?: IncidentState | undefined; device?: DeviceId | undefined }): Promise<Incident[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.state !== undefined) {
      args.push(query.state);
      where.push(`state = $${args.length}`);
    }
    if (query.device !== undefined) {
      args.push(query.device);
      where.push(`device_id = $${args.length}`);
    }
    args.push(query.limit);
    const sql = `SELECT body FROM incidents ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY opened_at DESC, id LIMIT $${args.length}`;
    return (await this.#db.query<IncidentRow>(sql, args)).rows.map(toIncident);
  }
}

/** Dead letters of outgoing events; a second letter with the same id replaces the first. */
export class PostgresDeadLetters implements DeadLetterRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async add(l: DeadLetter): Promise<void> {
    await this.#db.query(
      `INSERT INTO response_dead_letters (id, at, sink, url, attempts, error, event) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO UPDATE SET at = excluded.at, sink = excluded.sink, url = excluded.url, attempts = excluded.attempts,
         error = excluded.error, event = excluded.event`,
      deadLetterParams(l),
    );
  }

  async list(limit: number): Promise<DeadLetter[]> {
    const { rows } = await this.#db.query<DeadLetterRow>("SELECT * FROM response_dead_letters ORDER BY at DESC LIMIT $1", [
      limit,
    ]);
    return rows.map(toDeadLetter);
  }
}

/** Legacy devices' MQTT passwords (argon2id hashes). */
export class PostgresLegacyCredentials implements LegacyCredentialRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async get(device: DeviceId): Promise<LegacyCredential | undefined> {
    const { rows } = await this.#db.query<{ device_id: string; password_hash: string; set_at: number; set_by: string }>(
      "SELECT device_id, password_hash, set_at, set_by FROM device_legacy_passwords WHERE device_id = $1",
      [device],
    );
    const row = rows[0];
    return (
      row && {
        device: row.device_id as DeviceId,
        passwordHash: row.password_hash,
        setAt: row.set_at as Millis,
        setBy: row.set_by,
      }
    );
  }

  async set(c: LegacyCredential): Promise<void> {
    await this.#db.query(
      `INSERT INTO device_legacy_passwords (device_id, password_hash, set_at, set_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (device_id) DO UPDATE SET password_hash = excluded.password_hash, set_at = excluded.set_at, set_by = excluded.set_by`,
      [c.device, c.passwordHash, c.setAt, c.setBy],
    );
  }
}
