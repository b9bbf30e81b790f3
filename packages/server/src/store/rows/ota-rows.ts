/** Engine-neutral rows and mappers for OTA artifacts and campaigns (shared by SQLite and PostgreSQL). */
import type { OtaCampaignState } from "@vigil/contract";
import type { Millis } from "../../core/index.js";
import type { CampaignRecord, OtaArtifactRecord } from "../../ota/index.js";

export interface ArtifactRow {
  name: string;
  version: string;
  profile: string;
  hardware: string;
  min_version: string | null;
  counter: number;
  sha256: string;
  length: number;
  sbom_ref: string | null;
  file: string;
  created_at: number;
  created_by: string;
}

export interface CampaignRow {
  id: string;
  name: string;
  artifact: string;
  version: string;
  state: string;
  wave: number;
  waves: number;
  selector: string;
  options: string;
  halt_reason: string | null;
  baseline: string;
  created_at: number;
  updated_at: number;
  created_by: string;
}

export function toArtifact(r: ArtifactRow): OtaArtifactRecord {
  return {
    name: r.name,
    version: r.version,
    profile: r.profile,
    hardware: JSON.parse(r.hardware) as string[],
    minVersion: r.min_version,
    counter: r.counter,
    sha256: r.sha256,
    length: r.length,
    sbomRef: r.sbom_ref,
    file: r.file,
    createdAt: r.created_at as Millis,
    createdBy: r.created_by,
  };
}

export function toCampaign(r: CampaignRow): CampaignRecord {
  return {
    id: r.id,
    name: r.name,
    artifact: r.artifact,
    version: r.version,
    state: r.state as OtaCampaignState,
    wave: r.wave,
    waves: r.waves,
    selector: JSON.parse(r.selector) as CampaignRecord["selector"],
    options: JSON.parse(r.options) as CampaignRecord["options"],
    haltReason: r.halt_reason,
    baseline: JSON.parse(r.baseline) as CampaignRecord["baseline"],
    createdAt: r.created_at as Millis,
    updatedAt: r.updated_at as Millis,
    createdBy: r.created_by,
  };
}

export function artifactParams(r: OtaArtifactRecord): unknown[] {
  return [
    r.name,
    r.version,
    r.profile,
    JSON.stringify(r.hardware),
    r.minVersion,
    r.counter,
    r.sha256,
    r.length,
    r.sbomRef,
    r.file,
    r.createdAt,
    r.createdBy,
  ];
}

export function campaignParams(c: CampaignRecord): unknown[] {
  return [
    c.id,
    c.name,
    c.artifact,
    c.version,
    c.state,
    c.wave,
    c.waves,
    JSON.stringify(c.selector),
    JSON.stringify(c.options),
    c.haltReason,
    JSON.stringify(c.baseline),
    c.createdAt,
    c.updatedAt,
    c.createdBy,
  ];
}
