import type { DeviceId } from "../../core/index.js";
import type { TrustHistoryEntry, TrustRecord, TrustRepository } from "../../trust/index.js";
import type { Db } from "./postgres-db.js";
import { type ScoreRow, type HistoryRow, toRecord, toEntry } from "../rows/trust-rows.js";

/** Trust scores and their bounded history. */
export class PostgresTrust implements TrustRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async loadAll(): Promise<TrustRecord[]> {
    return (await this.#db.query<ScoreRow>("SELECT * FROM trust_scores")).rows.map(toRecord);
  }

  async get(device: DeviceId): Promise<TrustRecord | undefined> {
    const { rows } = await this.#db.query<ScoreRow>("SELECT * FROM trust_scores WHERE device_id = $1", [device]);
    return rows[0] && toRecord(rows[0]);
  }

  async saveMany(records: readonly TrustRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#db.tx(async (client) => {
      for (const r of records) {
        await client.query({
          name: "vigil_trust_upsert",
          text: `INSERT INTO trust_scores (device_id, score, tier, vertical, state, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (device_id) DO UPDATE SET score = excluded.score, tier = excluded.tier, vertical = excluded.vertical,
             state = excluded.state, updated_at = excluded.updated_at`,
          values: [r.device, r.score, r.tier, r.vertical, JSON.stringify(r.state), r.updatedAt],
        });
      }
    });
  }

  /** Per-device sequence under a transaction advisory lock keyed by the device: two nodes never pick one seq. */
  async appendHistory(e: TrustHistoryEntry, keep: number): Promise<void> {
    await this.#db.tx(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('vigil.trust:' || $1))", [e.device]);
      const { rows } = await client.query<{ seq: number }>(
        "SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM trust_history WHERE device_id = $1",
        [e.device],
      );
      const seq = rows[0]?.seq ?? 1;
      await client.query(
        "INSERT INTO trust_history (device_id, seq, at, score, tier, from_tier, reasons) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [e.device, seq, e.at, e.score, e.tier, e.from, JSON.stringify(e.reasons)],
      );
      await client.query("DELETE FROM trust_history WHERE device_id = $1 AND seq <= $2", [e.device, seq - keep]);
    });
  }

  async history(device: DeviceId, limit: number): Promise<TrustHistoryEntry[]> {
    const { rows } = await this.#db.query<HistoryRow>(
      "SELECT * FROM trust_history WHERE device_id = $1 ORDER BY seq DESC LIMIT $2",
      [device, limit],
    );
    return rows.map(toEntry);
  }
}
