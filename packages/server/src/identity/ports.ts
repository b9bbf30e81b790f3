import type { DeviceId, Millis } from "../core/index.js";

export type DeviceState = "pending" | "active" | "quarantined" | "revoked";

export interface DeviceRecord {
  readonly id: DeviceId;
  readonly profile: string | null;
  readonly state: DeviceState;
  readonly firmwareVersion: string | null;
  readonly createdAt: Millis;
  readonly lastSeenAt: Millis | null;
}

export interface DevicePage {
  readonly items: DeviceRecord[];
  /** The cursor for the next page, or null when this was the last. */
  readonly next: string | null;
}

/** Port: the store implements it. `insert` throws STORE_CONFLICT when the id exists. */
export interface DeviceRepository {
  count(): Promise<number>;
  get(id: DeviceId): Promise<DeviceRecord | undefined>;
  insert(record: DeviceRecord): Promise<void>;
  list(query: { limit: number; after?: string | undefined; state?: DeviceState | undefined }): Promise<DevicePage>;
}
