import type { DeviceId, Millis } from "../core/index.js";
import type { Tier } from "../policy/index.js";
import type { TrustState } from "./model.js";

/** A device's persisted trust: its evidence and the last assessment made of it. */
export interface TrustRecord {
  readonly device: DeviceId;
  readonly score: number;
  readonly tier: Tier;
  /** The vertical the assessment used (a `VerticalId`). */
  readonly vertical: string;
  readonly state: TrustState;
  readonly updatedAt: Millis;
}

/** One change of a device's score or tier, with why. */
export interface TrustHistoryEntry {
  readonly device: DeviceId;
  readonly at: Millis;
  readonly score: number;
  readonly tier: Tier;
  /** The tier before, when this entry changed it. */
  readonly from: Tier | null;
  readonly reasons: readonly string[];
}

/** Port: the store implements it (SQLite: migration 6). */
export interface TrustRepository {
  /** Every persisted record, to rebuild the in-memory scores at start. */
  loadAll(): Promise<TrustRecord[]>;
  get(device: DeviceId): Promise<TrustRecord | undefined>;
  /** Upserts, all in one transaction. */
  saveMany(records: readonly TrustRecord[]): Promise<void>;
  /** Appends one history entry and deletes the device's entries beyond the newest `keep`. */
  appendHistory(entry: TrustHistoryEntry, keep: number): Promise<void>;
  /** Newest first. */
  history(device: DeviceId, limit: number): Promise<TrustHistoryEntry[]>;
}

/**
 * Port: applies a tier to a device's live session now. The MQTT gateway implements it
 * (`Gateway.applyTier`: policy recompiled, token bucket resized, subscriptions the new
 * policy forbids removed); resolves with the number of live sessions changed.
 */
export interface TierEnforcer {
  applyTier(deviceId: string, tier: Tier, reason: string): Promise<number>;
}
