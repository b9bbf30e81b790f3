import type { DeviceId } from "../core/index.js";
import type { Tier } from "../policy/index.js";
import type { Incident, IncidentState } from "./incident.js";

/** Port: the store keeps incidents (SQLite: migration 10). */
export interface IncidentRepository {
  /** Upsert of the whole incident (timeline included). */
  save(incident: Incident): Promise<void>;
  get(id: string): Promise<Incident | undefined>;
  /** Incidents in `open`, `contained` or `recovering` (to rebuild mitigations at start). */
  listActive(): Promise<Incident[]>;
  /** Newest first. */
  list(query: { limit: number; state?: IncidentState | undefined; device?: DeviceId | undefined }): Promise<Incident[]>;
}

/** Port: the gateway implements it (`Gateway.applyTier`, `Gateway.disconnect`). */
export interface DeviceSessions {
  applyTier(deviceId: string, tier: Tier, reason: string): Promise<number>;
  disconnect(deviceId: string): boolean;
}

/** Port: identity implements it (`IdentityService.revokeDevice`). */
export interface DeviceRevoker {
  revokeDevice(device: string, reason: "keyCompromise" | "cessationOfOperation", by: string): Promise<string[]>;
}
