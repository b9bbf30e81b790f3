import type { DeviceId } from "../core/index.js";
import type { TrustHistoryEntry, TrustRecord, TrustRepository } from "./ports.js";

/** An in-memory TrustRepository for unit tests. */
export class MemoryTrustRepository implements TrustRepository {
  readonly records = new Map<DeviceId, TrustRecord>();
  readonly entries = new Map<DeviceId, TrustHistoryEntry[]>();

  async loadAll(): Promise<TrustRecord[]> {
    return [...this.records.values()];
  }

  async get(device: DeviceId): Promise<TrustRecord | undefined> {
    return this.records.get(device);
  }

  async saveMany(records: readonly TrustRecord[]): Promise<void> {
    for (const r of records) this.records.set(r.device, structuredClone(r));
  }

  async appendHistory(entry: TrustHistoryEntry, keep: number): Promise<void> {
    const list = [...(this.entries.get(entry.device) ?? []), entry];
    this.entries.set(entry.device, list.slice(Math.max(0, list.length - keep)));
  }

  async history(device: DeviceId, limit: number): Promise<TrustHistoryEntry[]> {
    return [...(this.entries.get(device) ?? [])].reverse().slice(0, limit);
  }
}
