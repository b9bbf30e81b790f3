import type Database from "better-sqlite3";
import type { Drill, DrillRepository } from "../../signals/index.js";
import { drillParams, toDrill, type DrillRow } from "../rows/drill-rows.js";

/** Drills (migration 13). */
export class SqliteDrills implements DrillRepository {
  readonly #upsert;
  readonly #recent;

  constructor(db: Database.Database) {
    this.#upsert = db.prepare(
      `INSERT INTO drills (id, name, devices, prefixes, started_at, ends_at, started_by) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET ends_at = min(drills.ends_at, excluded.ends_at)`,
    );
    this.#recent = db.prepare("SELECT * FROM drills ORDER BY started_at DESC, id DESC LIMIT ?");
  }

  async save(drill: Drill): Promise<void> {
    this.#upsert.run(...drillParams(drill));
  }

  async recent(limit: number): Promise<Drill[]> {
    return (this.#recent.all(limit) as DrillRow[]).map(toDrill);
  }
}
