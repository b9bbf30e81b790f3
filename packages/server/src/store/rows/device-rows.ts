/** Engine-neutral rows, columns, parameters and mappers for devices and certificates (shared by SQLite and PostgreSQL). */
import type { DeviceId, Millis } from "../../core/index.js";
import type { AttestationMethod, CertificateRecord, DeviceRecord, DeviceState } from "../../identity/index.js";

export interface DeviceRow {
  id: string;
  profile: string | null;
  state: string;
  firmware_version: string | null;
  created_at: number;
  last_seen_at: number | null;
  attestation_method: string | null;
  attestation_strength: number | null;
  key_type: string | null;
  sbom_ref: string | null;
  expected_key_sha256: string | null;
  manufacturer_id: string | null;
  enrolled_at: number | null;
  factory_cert_sha256: string | null;
  site: string;
}

export const DEVICE_COLUMNS =
  "id, profile, state, firmware_version, created_at, last_seen_at, attestation_method, attestation_strength, key_type, sbom_ref, expected_key_sha256, manufacturer_id, enrolled_at, factory_cert_sha256, site";

export function deviceParams(r: DeviceRecord): unknown[] {
  return [
    r.id,
    r.profile,
    r.state,
    r.firmwareVersion,
    r.createdAt,
    r.lastSeenAt,
    r.attestationMethod,
    r.attestationStrength,
    r.keyType,
    r.sbomRef,
    r.expectedKeySha256,
    r.manufacturerId,
    r.enrolledAt,
    r.factoryCertSha256,
    r.site,
  ];
}

export function toDevice(row: DeviceRow): DeviceRecord {
  return {
    id: row.id as DeviceId,
    profile: row.profile,
    state: row.state as DeviceState,
    firmwareVersion: row.firmware_version,
    createdAt: row.created_at as Millis,
    lastSeenAt: row.last_seen_at as Millis | null,
    attestationMethod: row.attestation_method as AttestationMethod | null,
    attestationStrength: row.attestation_strength,
    keyType: row.key_type,
    sbomRef: row.sbom_ref,
    expectedKeySha256: row.expected_key_sha256,
    manufacturerId: row.manufacturer_id,
    enrolledAt: row.enrolled_at as Millis | null,
    factoryCertSha256: row.factory_cert_sha256,
    site: row.site,
  };
}

export interface CertificateRow {
  serial: string;
  device_id: string;
  subject: string;
  not_before: number;
  not_after: number;
  key_sha256: string;
  pem: string;
  issued_at: number;
  revoked_at: number | null;
  revocation_reason: string | null;
}

export function toCertificate(row: CertificateRow): CertificateRecord {
  return {
    serial: row.serial,
    deviceId: row.device_id as DeviceId,
    subject: row.subject,
    notBefore: row.not_before as Millis,
    notAfter: row.not_after as Millis,
    keySha256: row.key_sha256,
    pem: row.pem,
    issuedAt: row.issued_at as Millis,
    revokedAt: row.revoked_at as Millis | null,
    revocationReason: row.revocation_reason,
  };
}

export function certificateParams(c: CertificateRecord): unknown[] {
  return [
    c.serial,
    c.deviceId,
    c.subject,
    c.notBefore,
    c.notAfter,
    c.keySha256,
    c.pem,
    c.issuedAt,
    c.revokedAt,
    c.revocationReason,
  ];
}

export function completeDeviceParams(d: DeviceRecord): unknown[] {
  return [
    d.profile,
    d.state,
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
