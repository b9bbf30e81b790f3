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
import { conflict, isUniqueViolation, type Db } from "./postgres-db.js";
import { campaignParams, artifactParams, type ArtifactRow, type CampaignRow, toArtifact, toCampaign } from "../rows/ota-rows.js";

interface TargetRow {
  campaign_id: string;
  device_id: string;
  wave: number;
  state: string;
  from_version: string | null;
  reason: string | null;
  trust_dropped: boolean;
  updated_at: number;
}

interface MetadataRow {
  role: OtaRole;
  version: number;
  body: string;
  created_at: number;
}

const toTarget = (r: TargetRow): CampaignTargetRecord => ({
  campaign: r.campaign_id,
  device: r.device_id as DeviceId,
  wave: r.wave,
  state: r.state as TargetState,
  fromVersion: r.from_version,
  reason: r.reason,
  trustDropped: r.trust_dropped,
  updatedAt: r.updated_at as Millis,
});

const toMetadata = (row: MetadataRow): OtaMetadataRecord => ({
  role: row.role,
  version: row.version,
  body: row.body,
  createdAt: row.created_at as Millis,
});

export class PostgresOta implements OtaRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async insertArtifact(r: OtaArtifactRecord): Promise<void> {
    try {
      await this.#db.query(
        "INSERT INTO ota_artifacts (name, version, profile, hardware, min_version, counter, sha256, length, sbom_ref, file, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        artifactParams(r),
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`artifact ${r.name}`, error);
      throw error;
    }
  }

  async getArtifact(name: string): Promise<OtaArtifactRecord | undefined> {
    const { rows } = await this.#db.query<ArtifactRow>("SELECT * FROM ota_artifacts WHERE name = $1", [name]);
    return rows[0] && toArtifact(rows[0]);
  }

  async listArtifacts(): Promise<OtaArtifactRecord[]> {
    return (await this.#db.query<ArtifactRow>("SELECT * FROM ota_artifacts ORDER BY created_at, name")).rows.map(toArtifact);
  }

  async putMetadata(r: OtaMetadataRecord): Promise<void> {
    try {
      await this.#db.query("INSERT INTO ota_metadata (role, version, body, created_at) VALUES ($1, $2, $3, $4)", [
        r.role,
        r.version,
        r.body,
        r.createdAt,
      ]);
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`${r.role} metadata version ${r.version}`, error);
      throw error;
    }
  }

  async latestMetadata(role: OtaRole): Promise<OtaMetadataRecord | undefined> {
    const { rows } = await this.#db.query<MetadataRow>(
      "SELECT * FROM ota_metadata WHERE role = $1 ORDER BY version DESC LIMIT 1",
      [role],
    );
    return rows[0] && toMetadata(rows[0]);
  }

  async rootsAfter(version: number): Promise<OtaMetadataRecord[]> {
    const { rows } = await this.#db.query<MetadataRow>(
      "SELECT * FROM ota_metadata WHERE role = 'root' AND version > $1 ORDER BY version",
      [version],
    );
    return rows.map(toMetadata);
  }

  async insertCampaign(c: CampaignRecord, targets: readonly CampaignTargetRecord[]): Promise<void> {
    await this.#db.tx(async (client) => {
      try {
        await client.query(
          "INSERT INTO ota_campaigns (id, name, artifact, version, state, wave, waves, selector, options, halt_reason, baseline, created_at, updated_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
          campaignParams(c),
        );
        for (const t of targets) {
          await client.query(
            "INSERT INTO ota_campaign_targets (campaign_id, device_id, wave, state, from_version, reason, trust_dropped, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [t.campaign, t.device, t.wave, t.state, t.fromVersion, t.reason, t.trustDropped, t.updatedAt],
          );
        }
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`campaign ${c.id} (or one of its targets)`, error);
        throw error;
      }
    });
  }

  async getCampaign(id: string): Promise<CampaignRecord | undefined> {
    const { rows } = await this.#db.query<CampaignRow>("SELECT * FROM ota_campaigns WHERE id = $1", [id]);
    return rows[0] && toCampaign(rows[0]);
  }

  async listCampaigns(): Promise<CampaignRecord[]> {
    return (await this.#db.query<CampaignRow>("SELECT * FROM ota_campaigns ORDER BY created_at, id")).rows.map(toCampaign);
  }

  async updateCampaign(c: CampaignRecord): Promise<void> {
    await this.#db.query(
      "UPDATE ota_campaigns SET state = $1, wave = $2, halt_reason = $3, baseline = $4, updated_at = $5 WHERE id = $6",
      [c.state, c.wave, c.haltReason, JSON.stringify(c.baseline), c.updatedAt, c.id],
    );
  }

  async targetsOf(campaign: string): Promise<CampaignTargetRecord[]> {
    const { rows } = await this.#db.query<TargetRow>("SELECT * FROM ota_campaign_targets WHERE campaign_id = $1", [campaign]);
    return rows.map(toTarget);
  }

  async saveTargets(targets: readonly CampaignTargetRecord[], firmware: ReadonlyMap<DeviceId, string>): Promise<void> {
    await this.#db.tx(async (client) => {
      for (const t of targets) {
        await client.query(
          "UPDATE ota_campaign_targets SET state = $1, reason = $2, trust_dropped = $3, updated_at = $4 WHERE campaign_id = $5 AND device_id = $6",
          [t.state, t.reason, t.trustDropped, t.updatedAt, t.campaign, t.device],
        );
      }
      for (const [device, version] of firmware) {
        await client.query("UPDATE devices SET firmware_version = $1 WHERE id = $2", [version, device]);
      }
    });
  }
}
