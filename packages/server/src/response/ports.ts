import type { DeviceId, Millis } from "../core/index.js";
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

/** Port: enrollment's re-admission list (a revoked device may come back by passing the door's checks). */
export interface DeviceReadmitter {
  require(record: {
    device: DeviceId;
    reason: "reattestation" | "reprovision";
    incident: string;
    since: Millis;
    tokenId: string | null;
  }): Promise<void>;
}

/** Port: enrollment mints a one-time claim token bound to the device (re-provisioning). */
export type ReprovisionTokens = (
  device: DeviceId,
  ttlMs: number,
  by: string,
) => Promise<{ token: string; tokenId: string; expiresAt: Millis }>;

/**
 * Port: the device's control channel. `deliver` publishes the command on `vigil/{device}/cmd`
 * and resolves true once the device acknowledges it on `vigil/{device}/ack` with
 * `{type, ref}` equal to the command's, false when no acknowledgement came within `timeoutMs`.
 */
export interface ControlChannel {
  deliver(
    device: DeviceId,
    command: { type: string; ref: string } & Record<string, unknown>,
    timeoutMs: number,
  ): Promise<boolean>;
}

/** Port: OTA (`CampaignService.rollbackDevice`). */
export interface FirmwareRollback {
  rollbackDevice(device: string, by: string): Promise<{ campaign: string; fromVersion: string | null; version: string }>;
}
