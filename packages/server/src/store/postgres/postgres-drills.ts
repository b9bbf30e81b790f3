import type { Drill, DrillRepository } from "../../signals/index.js";
import type { Db } from "./postgres-db.js";
import { drillParams, toDrill, type DrillRow } from "../rows/drill-rows.js";

/** Drills (PostgreSQL migration 3, SQLite 13). */
export class PostgresDrills implements DrillRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async save(drill: Drill): Promise<void> {
    await this.#db.query(
      `INSERT INTO drills (id, name, devices, prefixes, started_at, ends_at, started_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO UPDATE SET ends_at = least(drills.ends_at, excluded.ends_at)`,
      drillParams(drill),
    );
  }

  async recent(limit: number): Promise<Drill[]> {
    const { rows } = await this.#db.query<DrillRow>("SELECT * FROM drills ORDER BY started_at DESC, id DESC LIMIT $1", [limit]);
    return rows.map(toDrill);
  }
}
