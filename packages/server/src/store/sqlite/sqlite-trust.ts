import type Database from "better-sqlite3";
import type { DeviceId } from "../../core/index.js";
import type { TrustHistoryEntry, TrustRecord, TrustRepository } from "../../trust/index.js";
import { type ScoreRow, type HistoryRow, toRecord, toEntry } from "../rows/trust-rows.js";

type Db = Database.Database;

/** Trust scores and their bounded history (migration 6). */
export class SqliteTrust implements TrustRepository {
  readonly #all;
  readonly #get;
  readonly #upsert;
  readonly #save;
  readonly #nextSeq;
  readonly #insertHistory;
  readonly #trim;
  readonly #append;
  readonly #history;

  constructor(db: Db) {
    this.#all = db.prepare("SELECT * FROM trust_scores");
    this.#get = db.prepare("SELECT * FROM trust_scores WHERE device_id = ?");
    this.#upsert = db.prepare(
      `INSERT INTO trust_scores (device_id, score, tier, vertical, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(device_id) DO UPDATE SET score = excluded.score, tier = excluded.tier, vertical = excluded.vertical,
         state = excluded.state, updated_at = excluded.updated_at`,
    );
    this.#save = db.transaction((records: readonly TrustRecord[]) => {
      for (const r of records) this.#upsert.run(r.device, r.score, r.tier, r.vertical, JSON.stringify(r.state), r.updatedAt);
    });
    this.#nextSeq = db.prepare("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM trust_history WHERE device_id = ?");
    this.#insertHistory = db.prepare(
      "INSERT INTO trust_history (device_id, seq, at, score, tier, from_tier, reasons) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.#trim = db.prepare("DELETE FROM trust_history WHERE device_id = ? AND seq <= ?");
    this.#append = db.transaction((e: TrustHistoryEntry, keep: number) => {
      const seq = (this.#nextSeq.get(e.device) as { seq: number }).seq;
      this.#insertHistory.run(e.device, seq, e.at, e.score, e.tier, e.from, JSON.stringify(e.reasons));
      this.#trim.run(e.device, seq - keep);
    });
    this.#history = db.prepare("SELECT * FROM trust_history WHERE device_id = ? ORDER BY seq DESC LIMIT ?");
  }

  async loadAll(): Promise<TrustRecord[]> {
    return (this.#all.all() as ScoreRow[]).map(toRecord);
  }

  async get(device: DeviceId): Promise<TrustRecord | undefined> {
    const row = this.#get.get(device) as ScoreRow | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  async saveMany(records: readonly TrustRecord[]): Promise<void> {
    if (records.length > 0) this.#save.immediate(records);
  }

  async appendHistory(entry: TrustHistoryEntry, keep: number): Promise<void> {
    this.#append.immediate(entry, keep);
  }

  async history(device: DeviceId, limit: number): Promise<TrustHistoryEntry[]> {
    return (this.#history.all(device, limit) as HistoryRow[]).map(toEntry);
  }
}
