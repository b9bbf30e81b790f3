import type { DeviceId, Millis } from "../core/index.js";

export type DeviceState = "pending" | "active" | "quarantined" | "revoked";

/** How a device proved it may enroll (NIST IR 8259A: device identification). */
export type AttestationMethod = "manufacturer-certificate" | "pre-registered-key" | "claim-token";

export interface DeviceRecord {
  readonly id: DeviceId;
  readonly profile: string | null;
  readonly state: DeviceState;
  readonly firmwareVersion: string | null;
  readonly createdAt: Millis;
  readonly lastSeenAt: Millis | null;
  readonly attestationMethod: AttestationMethod | null;
  /** 0..100: how much the attestation proves (the trust score uses it). */
  readonly attestationStrength: number | null;
  readonly keyType: string | null;
  readonly sbomRef: string | null;
  /** Pre-registration: the SHA-256 of the only public key (SPKI DER) allowed to enroll as this device. */
  readonly expectedKeySha256: string | null;
  readonly manufacturerId: string | null;
  /** SHA-256 of the factory (IDevID) certificate it enrolled with: one factory identity, one device. */
  readonly factoryCertSha256: string | null;
  readonly enrolledAt: Millis | null;
  /** The site the device belongs to (`default` unless placed); operators see only their sites. */
  readonly site: string;
}

export interface CertificateRecord {
  readonly serial: string;
  readonly deviceId: DeviceId;
  readonly subject: string;
  readonly notBefore: Millis;
  readonly notAfter: Millis;
  readonly keySha256: string;
  readonly pem: string;
  readonly issuedAt: Millis;
  readonly revokedAt: Millis | null;
  readonly revocationReason: string | null;
}

export interface CertificateRepository {
  get(serial: string): Promise<CertificateRecord | undefined>;
  listForDevice(deviceId: DeviceId): Promise<CertificateRecord[]>;
  /** The newest certificate of each of these devices (devices without one are absent). */
  latestForDevices(deviceIds: readonly DeviceId[]): Promise<Map<DeviceId, CertificateRecord>>;
  /** Every revoked certificate that has not yet expired (what a CRL must list). */
  listRevoked(now: Millis): Promise<CertificateRecord[]>;
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
  /** All or nothing: one conflict and none is inserted (STORE_CONFLICT names the id). */
  insertMany(records: readonly DeviceRecord[]): Promise<void>;
  /** Revokes the device and every certificate of it that is not yet revoked, in one transaction; returns their serials. */
  revoke(id: DeviceId, at: Millis, reason: string): Promise<string[]>;
  /** `sites`: only devices of these sites (undefined: every site). */
  list(query: {
    limit: number;
    after?: string | undefined;
    state?: DeviceState | undefined;
    sites?: readonly string[] | undefined;
  }): Promise<DevicePage>;
}

/** A device record with every optional fact empty: the start of a pre-registration or an enrollment. */
export function newDeviceRecord(fields: Pick<DeviceRecord, "id" | "createdAt"> & Partial<DeviceRecord>): DeviceRecord {
  return {
    profile: null,
    state: "pending",
    firmwareVersion: null,
    lastSeenAt: null,
    attestationMethod: null,
    attestationStrength: null,
    keyType: null,
    sbomRef: null,
    expectedKeySha256: null,
    manufacturerId: null,
    factoryCertSha256: null,
    enrolledAt: null,
    site: "default",
    ...fields,
  };
}
