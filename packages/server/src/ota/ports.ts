import type { OtaCampaignState, OtaCommand } from "@vigil/contract";
import type { DeviceId, Millis } from "../core/index.js";
import type { DeviceRecord } from "../identity/index.js";
import type { Tier } from "../policy/index.js";

/** A firmware image and its manifest. Immutable once added. */
export interface OtaArtifactRecord {
  /** The TUF target name, e.g. `infusion-pump-2.5.0`. */
  readonly name: string;
  readonly version: string;
  readonly profile: string;
  readonly hardware: readonly string[];
  readonly minVersion: string | null;
  readonly counter: number;
  readonly sha256: string;
  readonly length: number;
  readonly sbomRef: string | null;
  /** The image file, relative to the OTA directory. */
  readonly file: string;
  readonly createdAt: Millis;
  readonly createdBy: string;
}

export type OtaRole = "root" | "targets";

export interface OtaMetadataRecord {
  readonly role: OtaRole;
  readonly version: number;
  /** The signed envelope, JSON text exactly as served. */
  readonly body: string;
  readonly createdAt: Millis;
}

export interface CampaignOptions {
  readonly canaryPercent: number;
  readonly wavePercent: number;
  readonly maxPerMinute: number;
  readonly failureThresholdPercent: number;
  readonly trustDropThresholdPercent: number;
  readonly rollback: "automatic" | "manual";
  readonly window: { readonly start: string; readonly end: string } | null;
  readonly deviceTimeoutSeconds: number;
}

export interface CampaignSelector {
  readonly profile?: string | undefined;
  readonly tags?: readonly string[] | undefined;
  readonly tiers?: readonly Tier[] | undefined;
  readonly devices?: readonly string[] | undefined;
}

export interface CampaignRecord {
  readonly id: string;
  readonly name: string;
  readonly artifact: string;
  readonly version: string;
  readonly state: OtaCampaignState;
  /** The wave in progress (0 is the canary when there is one). */
  readonly wave: number;
  readonly waves: number;
  readonly selector: CampaignSelector;
  readonly options: CampaignOptions;
  readonly haltReason: string | null;
  /** Failures, trust drops and notified devices already judged when the campaign was last resumed. */
  readonly baseline: { readonly failed: number; readonly trustDrops: number; readonly notified: number };
  readonly createdAt: Millis;
  readonly updatedAt: Millis;
  readonly createdBy: string;
}

/** A device's progress in one campaign. */
export type TargetState =
  | "pending"
  | "notified"
  | "downloading"
  | "verified"
  | "installing"
  | "installed"
  | "failed"
  | "skipped"
  | "rollback_sent"
  | "rolled_back";

export const TARGET_STATES: readonly TargetState[] = [
  "pending",
  "notified",
  "downloading",
  "verified",
  "installing",
  "installed",
  "failed",
  "skipped",
  "rollback_sent",
  "rolled_back",
];

export interface CampaignTargetRecord {
  readonly campaign: string;
  readonly device: DeviceId;
  readonly wave: number;
  readonly state: TargetState;
  readonly fromVersion: string | null;
  readonly reason: string | null;
  readonly trustDropped: boolean;
  readonly updatedAt: Millis;
}

/** Port: the store implements it. No SQL outside `store/`. */
export interface OtaRepository {
  insertArtifact(record: OtaArtifactRecord): Promise<void>;
  getArtifact(name: string): Promise<OtaArtifactRecord | undefined>;
  listArtifacts(): Promise<OtaArtifactRecord[]>;

  putMetadata(record: OtaMetadataRecord): Promise<void>;
  latestMetadata(role: OtaRole): Promise<OtaMetadataRecord | undefined>;
  /** Root metadata with a version above `version`, oldest first. */
  rootsAfter(version: number): Promise<OtaMetadataRecord[]>;

  /** The campaign and every target, in one transaction. */
  insertCampaign(campaign: CampaignRecord, targets: readonly CampaignTargetRecord[]): Promise<void>;
  getCampaign(id: string): Promise<CampaignRecord | undefined>;
  listCampaigns(): Promise<CampaignRecord[]>;
  updateCampaign(campaign: CampaignRecord): Promise<void>;
  targetsOf(campaign: string): Promise<CampaignTargetRecord[]>;
  /**
   * Saves changed targets and, for verified installation and rollback reports, the device's
   * firmware version, all in one transaction.
   */
  saveTargets(targets: readonly CampaignTargetRecord[], firmware: ReadonlyMap<DeviceId, string>): Promise<void>;
}

/**
 * Port: the device's control channel (`vigil/{device}/cmd` and `vigil/{device}/ack`). The
 * MQTT gateway implements it (app/platform.ts); tests and the benchmark plug their own.
 */
export interface DeviceNotifier {
  send(device: DeviceId, command: OtaCommand): Promise<{ online: boolean }>;
  /** Every ack a device publishes; resolves to the function that stops listening. */
  onAck(handler: (device: DeviceId, payload: Buffer) => void): Promise<() => Promise<void>>;
}

/** Port: the fleet as campaigns see it (devices, their tags and trust tier). */
export interface FleetDirectory {
  /** Every active device, in pages (ordered by id). */
  activeDevices(): AsyncIterable<DeviceRecord>;
  tagsOf?(device: DeviceRecord): readonly string[];
  tierOf?(device: DeviceRecord): Tier;
}
