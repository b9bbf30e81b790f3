import type { DeviceId, Millis } from "../core/index.js";
import type { CertificateRecord, DeviceRecord } from "../identity/index.js";

/**
 * Why a revoked device may come back: `reattestation` (an incident's `reattest` action) or
 * `reprovision` (an incident's `reprovision` action, which also handed the device a one-time
 * claim token over its control channel). A device revoked without such a record (an operator's
 * `vigil devices revoke`, a `revoke` action) is revoked for good.
 */
export type ReadmissionReason = "reattestation" | "reprovision";

export interface ReadmissionRecord {
  readonly device: DeviceId;
  readonly reason: ReadmissionReason;
  /** The incident that asked for it (or `operator`). */
  readonly incident: string;
  readonly since: Millis;
  /** The one-time claim token minted for a re-provisioning (its id; never the secret). */
  readonly tokenId: string | null;
  /** null while the device has not passed the checks at the door again. */
  readonly readmittedAt: Millis | null;
  /** The certificate issued at re-admission. */
  readonly serial: string | null;
}

/**
 * Port (SQLite: migration 12). A re-admission is one transaction: the claim token (if any) is
 * consumed, the device goes from `revoked` back to `active` with its new attestation and
 * posture, the new certificate is stored, and the record is marked done. Certificates revoked
 * before stay revoked. A second re-admission of the same record fails with DEVICE_REVOKED.
 */
export interface ReadmissionRepository {
  /** Records (or replaces) the pending re-admission of a device. */
  require(record: Omit<ReadmissionRecord, "readmittedAt" | "serial">): Promise<void>;
  /** The device's pending re-admission, if any. */
  pending(device: DeviceId): Promise<ReadmissionRecord | undefined>;
  readmit(input: { device: DeviceRecord; certificate: CertificateRecord; tokenId: string | null; at: Millis }): Promise<void>;
}
