import type { DeviceId, Millis } from "../core/index.js";
import type { CertificateRecord, DeviceRecord } from "../identity/index.js";

export interface ManufacturerRecord {
  readonly id: string;
  readonly name: string;
  readonly caPem: string;
  readonly caSha256: string;
  /** Factory-certificate serials (lower-case hex) allowed to enroll; null = any. */
  readonly serialAllowlist: readonly string[] | null;
  readonly createdAt: Millis;
  readonly revokedAt: Millis | null;
}

export interface ManufacturerRepository {
  insert(record: ManufacturerRecord): Promise<void>;
  get(id: string): Promise<ManufacturerRecord | undefined>;
  list(): Promise<ManufacturerRecord[]>;
  revoke(id: string, at: Millis): Promise<boolean>;
}

export interface EnrollmentTokenRecord {
  readonly id: string;
  readonly secretHash: string;
  readonly profile: string;
  readonly deviceId: DeviceId | null;
  readonly createdAt: Millis;
  readonly expiresAt: Millis;
  readonly usedAt: Millis | null;
  readonly usedByDevice: DeviceId | null;
  readonly createdBy: string;
}

export interface EnrollmentTokenRepository {
  insertMany(records: readonly EnrollmentTokenRecord[]): Promise<void>;
  get(id: string): Promise<EnrollmentTokenRecord | undefined>;
  list(options: { includeUsed: boolean }): Promise<EnrollmentTokenRecord[]>;
}

/**
 * The one place an enrollment becomes durable, atomically (RFC 7030 gives no second chance
 * to a client that lost its response, so a certificate is stored before it is returned, and
 * a failure stores nothing): consume the token, create or complete the device, store the
 * certificate. A token already used fails with ENROLLMENT_TOKEN_REPLAYED and changes nothing.
 */
export interface EnrollmentLedger {
  recordEnrollment(input: {
    device: DeviceRecord;
    completesPending: boolean;
    certificate: CertificateRecord;
    tokenId: string | null;
    at: Millis;
  }): Promise<void>;
  recordRenewal(input: { certificate: CertificateRecord; at: Millis }): Promise<void>;
}
