/** Engine-neutral rows and mappers for SBOMs, findings, VEX statements and check runs (shared by SQLite and PostgreSQL). */
import type {
  CheckRunRecord,
  FindingRecord,
  FindingStatus,
  SbomComponent,
  SbomRecord,
  SbomSummary,
  Severity,
  VexStatement,
} from "../../assessment/index.js";
import type { DeviceId, Millis } from "../../core/index.js";

export interface SbomRow {
  id: string;
  profile: string;
  firmware_version: string;
  spec_version: string;
  serial_number: string | null;
  bom_version: number;
  subject_name: string | null;
  sha256: string;
  components?: string;
  component_count: number;
  imported_at: number;
  imported_by: string;
}

export interface FindingRow {
  device_id: string;
  advisory_id: string;
  component: string;
  component_version: string;
  sbom_id: string;
  severity: string;
  cvss: number | null;
  fixed_version: string | null;
  status: string;
  resolution: string | null;
  first_seen_at: number;
  last_seen_at: number;
  resolved_at: number | null;
}

export interface VexRow {
  vulnerability: string;
  package_key: string;
  version: string;
  sbom_serial: string;
  state: string;
  justification: string | null;
  detail: string | null;
}

export const SUMMARY_COLUMNS =
  "id, profile, firmware_version, spec_version, serial_number, bom_version, subject_name, sha256, component_count, imported_at, imported_by";

export function toSummary(row: SbomRow): SbomSummary {
  return {
    id: row.id,
    profile: row.profile === "" ? null : row.profile,
    firmwareVersion: row.firmware_version,
    specVersion: row.spec_version,
    serialNumber: row.serial_number,
    bomVersion: row.bom_version,
    subjectName: row.subject_name,
    sha256: row.sha256,
    componentCount: row.component_count,
    importedAt: row.imported_at as Millis,
    importedBy: row.imported_by,
  };
}

export function toSbom(row: SbomRow): SbomRecord {
  const { componentCount: _count, ...summary } = toSummary(row);
  return { ...summary, components: JSON.parse(row.components ?? "[]") as SbomComponent[] };
}

export function toFinding(row: FindingRow): FindingRecord {
  return {
    deviceId: row.device_id as DeviceId,
    advisoryId: row.advisory_id,
    component: row.component,
    componentVersion: row.component_version,
    sbomId: row.sbom_id,
    severity: row.severity as Severity,
    cvss: row.cvss,
    fixedVersion: row.fixed_version,
    status: row.status as FindingStatus,
    resolution: row.resolution as FindingRecord["resolution"],
    firstSeenAt: row.first_seen_at as Millis,
    lastSeenAt: row.last_seen_at as Millis,
    resolvedAt: row.resolved_at as Millis | null,
  };
}

export function sbomParams(r: SbomRecord): unknown[] {
  return [
    r.id,
    r.profile ?? "",
    r.firmwareVersion,
    r.specVersion,
    r.serialNumber,
    r.bomVersion,
    r.subjectName,
    r.sha256,
    JSON.stringify(r.components),
    r.components.length,
    r.importedAt,
    r.importedBy,
  ];
}

export function findingParams(f: FindingRecord): unknown[] {
  return [
    f.deviceId,
    f.advisoryId,
    f.component,
    f.componentVersion,
    f.sbomId,
    f.severity,
    f.cvss,
    f.fixedVersion,
    f.status,
    f.resolution,
    f.firstSeenAt,
    f.lastSeenAt,
    f.resolvedAt,
  ];
}

export function toVex(r: VexRow): VexStatement {
  return {
    vulnerability: r.vulnerability,
    packageKey: r.package_key,
    version: r.version === "" ? null : r.version,
    sbomSerial: r.sbom_serial === "" ? null : r.sbom_serial,
    state: r.state as VexStatement["state"],
    justification: r.justification,
    detail: r.detail,
  };
}

export interface CheckRunRow {
  id: string;
  at: number;
  trigger: string;
  results: string;
}

export function toCheckRun(row: CheckRunRow): CheckRunRecord {
  return {
    id: row.id,
    at: row.at as Millis,
    trigger: row.trigger as CheckRunRecord["trigger"],
    results: JSON.parse(row.results) as unknown[],
  };
}
