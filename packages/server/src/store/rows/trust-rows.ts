/** Engine-neutral rows and mappers for trust scores and history (shared by SQLite and PostgreSQL). */
import type { DeviceId, Millis } from "../../core/index.js";
import type { Tier } from "../../policy/index.js";
import type { TrustHistoryEntry, TrustRecord, TrustState } from "../../trust/index.js";

export interface ScoreRow {
  device_id: string;
  score: number;
  tier: string;
  vertical: string;
  state: string;
  updated_at: number;
}

export interface HistoryRow {
  device_id: string;
  seq: number;
  at: number;
  score: number;
  tier: string;
  from_tier: string | null;
  reasons: string;
}

export function toRecord(row: ScoreRow): TrustRecord {
  return {
    device: row.device_id as DeviceId,
    score: row.score,
    tier: row.tier as Tier,
    vertical: row.vertical,
    state: JSON.parse(row.state) as TrustState,
    updatedAt: row.updated_at as Millis,
  };
}

export function toEntry(row: HistoryRow): TrustHistoryEntry {
  return {
    device: row.device_id as DeviceId,
    at: row.at as Millis,
    score: row.score,
    tier: row.tier as Tier,
    from: row.from_tier as Tier | null,
    reasons: JSON.parse(row.reasons) as string[],
  };
}
