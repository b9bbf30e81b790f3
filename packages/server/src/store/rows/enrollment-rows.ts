/** Engine-neutral rows and mappers for manufacturers, enrollment tokens and re-admissions (shared by SQLite and PostgreSQL). */
import type { DeviceId, Millis } from "../../core/index.js";
import type { EnrollmentTokenRecord, ManufacturerRecord, ReadmissionReason, ReadmissionRecord } from "../../enrollment/index.js";
import type { DeviceRecord } from "../../identity/index.js";

export interface ManufacturerRow {
  id: string;
  name: string;
  ca_pem: string;
  ca_sha256: string;
  serial_allowlist: string | null;
  created_at: number;
  revoked_at: number | null;
}

export function toManufacturer(row: ManufacturerRow): ManufacturerRecord {
  return {
    id: row.id,
    name: row.name,
    caPem: row.ca_pem,
    caSha256: row.ca_sha256,
    serialAllowlist: row.serial_allowlist === null ? null : (JSON.parse(row.serial_allowlist) as string[]),
    createdAt: row.created_at as Millis,
    revokedAt: row.revoked_at as Millis | null,
  };
}

export interface TokenRow {
  id: string;
  secret_hash: string;
  profile: string;
  device_id: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by_device: string | null;
  created_by: string;
}

export function toToken(row: TokenRow): EnrollmentTokenRecord {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    profile: row.profile,
    deviceId: row.device_id as DeviceId | null,
    createdAt: row.created_at as Millis,
    expiresAt: row.expires_at as Millis,
    usedAt: row.used_at as Millis | null,
    usedByDevice: row.used_by_device as DeviceId | null,
    createdBy: row.created_by,
  };
}

export interface ReadmissionRow {
  device_id: string;
  reason: string;
  incident: string;
  since: number;
  token_id: string | null;
  readmitted_at: number | null;
  serial: string | null;
}

export function toReadmission(row: ReadmissionRow): ReadmissionRecord {
  return {
    device: row.device_id as DeviceId,
    reason: row.reason as ReadmissionReason,
    incident: row.incident,
    since: row.since as Millis,
    tokenId: row.token_id,
    readmittedAt: row.readmitted_at as Millis | null,
    serial: row.serial,
  };
}

/** Parameters of the re-admission `UPDATE devices SET profile, firmware_version, ..., factory_cert_sha256 WHERE id`. */
export function reactivateParams(d: DeviceRecord): unknown[] {
  return [
    d.profile,
    d.firmwareVersion,
    d.attestationMethod,
    d.attestationStrength,
    d.keyType,
    d.sbomRef,
    d.manufacturerId,
    d.enrolledAt,
    d.factoryCertSha256,
    d.id,
  ];
}

export function manufacturerParams(r: ManufacturerRecord): unknown[] {
  return [
    r.id,
    r.name,
    r.caPem,
    r.caSha256,
    r.serialAllowlist === null ? null : JSON.stringify(r.serialAllowlist),
    r.createdAt,
    r.revokedAt,
  ];
}
