import type Database from "better-sqlite3";
import type { DeviceId, Millis } from "../../core/index.js";
import type {
  CampaignRecord,
  CampaignTargetRecord,
  OtaArtifactRecord,
  OtaMetadataRecord,
  OtaRepository,
  OtaRole,
  TargetState,
} from "../../ota/index.js";
import { conflict, isUniqueViolation } from "./sql-errors.js";
import { campaignParams, artifactParams, type ArtifactRow, type CampaignRow, toArtifact, toCampaign } from "../rows/ota-rows.js";

type Db = Database.Database;

interface TargetRow {
  campaign_id: string;
  device_id: string;
  wave: number;
  state: string;
  from_version: string | null;
  reason: string | null;
  trust_dropped: number;
  updated_at: number;
}

function toTarget(r: TargetRow): CampaignTargetRecord {
  return {
    campaign: r.campaign_id,
    device: r.device_id as DeviceId,
    wave: r.wave,
    state: r.state as TargetState,
    fromVersion: r.from_version,
    reason: r.reason,
    trustDropped: r.trust_dropped === 1,
    updatedAt: r.updated_at as Millis,
  };
}

export class SqliteOta implements OtaRepository {
  readonly #db: Db;
  readonly #insertArtifact;
  readonly #getArtifact;
  readonly #listArtifacts;
  readonly #putMetadata;
  readonly #latestMetadata;
  readonly #rootsAfter;
  readonly #insertCampaign;
  readonly #getCampaign;
  readonly #listCampaigns;
  readonly #updateCampaign;
  readonly #insertTarget;
  readonly #targetsOf;
  readonly #updateTarget;
  readonly #setFirmware;

  constructor(db: Db) {
    this.#db = db;
    this.#insertArtifact = db.prepare(
      "INSERT INTO ota_artifacts (name, version, profile, hardware, min_version, counter, sha256, length, sbom_ref, file, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#getArtifact = db.prepare("SELECT * FROM ota_artifacts WHERE name = ?");
    this.#listArtifacts = db.prepare("SELECT * FROM ota_artifacts ORDER BY created_at, name");
    this.#putMetadata = db.prepare("INSERT INTO ota_metadata (role, version, body, created_at) VALUES (?, ?, ?, ?)");
    this.#latestMetadata = db.prepare("SELECT * FROM ota_metadata WHERE role = ? ORDER BY version DESC LIMIT 1");
    this.#rootsAfter = db.prepare("SELECT * FROM ota_metadata WHERE role = 'root' AND version > ? ORDER BY version");
    this.#insertCampaign = db.prepare(
      "INSERT INTO ota_campaigns (id, name, artifact, version, state, wave, waves, selector, options, halt_reason, baseline, created_at, updated_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#getCampaign = db.prepare("SELECT * FROM ota_campaigns WHERE id = ?");
    this.#listCampaigns = db.prepare("SELECT * FROM ota_campaigns ORDER BY created_at, id");
    this.#updateCampaign = db.prepare(
      "UPDATE ota_campaigns SET state = ?, wave = ?, halt_reason = ?, baseline = ?, updated_at = ? WHERE id = ?",
    );
    this.#insertTarget = db.prepare(
      "INSERT INTO ota_campaign_targets (campaign_id, device_id, wave, state, from_version, reason, trust_dropped, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#targetsOf = db.prepare("SELECT * FROM ota_campaign_targets WHERE campaign_id = ?");
    this.#updateTarget = db.prepare(
      "UPDATE ota_campaign_targets SET state = ?, reason = ?, trust_dropped = ?, updated_at = ? WHERE campaign_id = ? AND device_id = ?",
    );
    this.#setFirmware = db.prepare("UPDATE devices SET firmware_version = ? WHERE id = ?");
  }

  async insertArtifact(r: OtaArtifactRecord): Promise<void> {
    try {
      this.#insertArtifact.run(...artifactParams(r));
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`artifact ${r.name}`, error);
      throw error;
    }
  }

  async getArtifact(name: string): Promise<OtaArtifactRecord | undefined> {
    const row = this.#getArtifact.get(name) as ArtifactRow | undefined;
    return row && toArtifact(row);
  }

  async listArtifacts(): Promise<OtaArtifactRecord[]> {
    return (this.#listArtifacts.all() as ArtifactRow[]).map(toArtifact);
  }

  async putMetadata(r: OtaMetadataRecord): Promise<void> {
    try {
      this.#putMetadata.run(r.role, r.version, r.body, r.createdAt);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`${r.role} metadata version ${r.version}`, error);
      throw error;
    }
  }

  async latestMetadata(role: OtaRole): Promise<OtaMetadataRecord | undefined> {
    const row = this.#latestMetadata.get(role) as
      { role: OtaRole; version: number; body: string; created_at: number } | undefined;
    return row && { role: row.role, version: row.version, body: row.body, createdAt: row.created_at as Millis };
  }

  async rootsAfter(version: number): Promise<OtaMetadataRecord[]> {
    return (this.#rootsAfter.all(version) as { role: OtaRole; version: number; body: string; created_at: number }[]).map(
      (row) => ({
        role: row.role,
        version: row.version,
        body: row.body,
        createdAt: row.created_at as Millis,
      }),
    );
  }

  async insertCampaign(c: CampaignRecord, targets: readonly CampaignTargetRecord[]): Promise<void> {
    this.#db
      .transaction(() => {
        this.#insertCampaign.run(...campaignParams(c));
        for (const t of targets) {
          this.#insertTarget.run(
            t.campaign,
            t.device,
            t.wave,
            t.state,
            t.fromVersion,
            t.reason,
            t.trustDropped ? 1 : 0,
            t.updatedAt,
          );
        }
      })
      .immediate();
  }

  async getCampaign(id: string): Promise<CampaignRecord | undefined> {
    const row = this.#getCampaign.get(id) as CampaignRow | undefined;
    return row && toCampaign(row);
  }

  async listCampaigns(): Promise<CampaignRecord[]> {
    return (this.#listCampaigns.all() as CampaignRow[]).map(toCampaign);
  }

  async updateCampaign(c: CampaignRecord): Promise<void> {
    this.#updateCampaign.run(c.state, c.wave, c.haltReason, JSON.stringify(c.baseline), c.updatedAt, c.id);
  }

  async targetsOf(campaign: string): Promise<CampaignTargetRecord[]> {
    return (this.#targetsOf.all(campaign) as TargetRow[]).map(toTarget);
  }

  async saveTargets(targets: readonly CampaignTargetRecord[], firmware: ReadonlyMap<DeviceId, string>): Promise<void> {
    this.#db
      .transaction(() => {
        for (const t of targets) {
          this.#updateTarget.run(t.state, t.reason, t.trustDropped ? 1 : 0, t.updatedAt, t.campaign, t.device);
        }
        for (const [device, version] of firmware) this.#setFirmware.run(version, device);
      })
      .immediate();
  }
}
