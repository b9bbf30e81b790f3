import { z } from "zod";

/**
 * Over-the-air update wire formats, shared by the server (which signs), the device SDK (which
 * verifies) and the console. The metadata follows The Update Framework (TUF spec 1.0, §4):
 * a root role that names the keys of every role and delegates to a targets role, each
 * metadata file `{signed, signatures}` with a version and an expiry, signatures over the
 * canonical JSON (RFC 8785) of `signed`. Uptane's director/image-repository split is not
 * modelled: Vigil is both, and the campaign engine plays the director.
 */

/** Strict semantic versions (semver 2.0.0 §2, §9, without build metadata). */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?$/;

export function isSemver(value: string): boolean {
  return value.length <= 64 && SEMVER.test(value);
}

/** semver 2.0.0 §11 precedence: <0, 0, >0. Throws on a value that is not a version. */
export function compareVersions(a: string, b: string): number {
  const pa = SEMVER.exec(a);
  const pb = SEMVER.exec(b);
  if (pa === null || pb === null) throw new RangeError(`not a semantic version: ${pa === null ? a : b}`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return Math.sign(d);
  }
  const ra = pa[4];
  const rb = pb[4];
  if (ra === undefined || rb === undefined) return ra === rb ? 0 : ra === undefined ? 1 : -1;
  const xa = ra.split(".");
  const xb = rb.split(".");
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    const ia = xa[i];
    const ib = xb[i];
    if (ia === undefined) return -1;
    if (ib === undefined) return 1;
    const na = /^\d+$/.test(ia);
    const nb = /^\d+$/.test(ib);
    if (na && nb) {
      const d = Number(ia) - Number(ib);
      if (d !== 0) return Math.sign(d);
    } else if (na !== nb) return na ? -1 : 1;
    else if (ia !== ib) return ia < ib ? -1 : 1;
  }
  return 0;
}

export { canonicalJson } from "./canonical-json.js";

export const OTA_SPEC_VERSION = "1.0.0";
export const OtaKeyType = z.enum(["ed25519", "ecdsa-p256"]);
export type OtaKeyType = z.infer<typeof OtaKeyType>;

const KeyId = z.string().regex(/^[0-9a-f]{64}$/, "a key id is the SHA-256 (hex) of the key's SubjectPublicKeyInfo");
const Expires = z.string().datetime({ offset: false });

export const OtaPublicKey = z.object({ keytype: OtaKeyType, public: z.string().min(1).max(4096) }).strict();
export const OtaRoleKeys = z
  .object({ keyids: z.array(KeyId).min(1).max(16), threshold: z.number().int().min(1).max(16) })
  .strict();

/** TUF §4.3 root.json, restricted to the two roles Vigil uses. */
export const OtaRootSigned = z
  .object({
    _type: z.literal("root"),
    spec_version: z.string(),
    version: z.number().int().min(1),
    expires: Expires,
    keys: z.record(KeyId, OtaPublicKey),
    roles: z.object({ root: OtaRoleKeys, targets: OtaRoleKeys }).strict(),
  })
  .strict();
export type OtaRootSigned = z.infer<typeof OtaRootSigned>;

/** The image's manifest: what the device checks before it installs (TUF §4.5 `custom`). */
export const OtaTargetCustom = z
  .object({
    version: z.string().refine(isSemver, "not a semantic version"),
    profile: z.string().min(1).max(64),
    /** Hardware ids the image runs on; empty means any hardware of the profile. */
    hardware: z.array(z.string().min(1).max(64)).max(64),
    /** The device must run at least this version to take the update (e.g. a migration step). */
    minVersion: z.string().refine(isSemver, "not a semantic version").nullable(),
    /** Anti-rollback security counter: a device refuses an image below the counter it committed. */
    counter: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31),
    sbomRef: z.string().max(512).nullable(),
  })
  .strict();
export type OtaTargetCustom = z.infer<typeof OtaTargetCustom>;

export const OtaTargetInfo = z
  .object({
    length: z.number().int().min(1),
    hashes: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict(),
    custom: OtaTargetCustom,
  })
  .strict();
export type OtaTargetInfo = z.infer<typeof OtaTargetInfo>;

export const OtaTargetsSigned = z
  .object({
    _type: z.literal("targets"),
    spec_version: z.string(),
    version: z.number().int().min(1),
    expires: Expires,
    targets: z.record(z.string().min(1).max(200), OtaTargetInfo),
  })
  .strict();
export type OtaTargetsSigned = z.infer<typeof OtaTargetsSigned>;

export const OtaSignature = z.object({ keyid: KeyId, sig: z.string().min(1).max(1024) }).strict();
export const OtaSignedRoot = z.object({ signed: OtaRootSigned, signatures: z.array(OtaSignature).max(16) }).strict();
export type OtaSignedRoot = z.infer<typeof OtaSignedRoot>;
export const OtaSignedTargets = z.object({ signed: OtaTargetsSigned, signatures: z.array(OtaSignature).max(16) }).strict();
export type OtaSignedTargets = z.infer<typeof OtaSignedTargets>;

/**
 * What a device fetches (`GET /ota/v1/metadata?root=N`): every root newer than the one it
 * trusts, in order (each signed by the previous root's keys and its own), and the current targets.
 */
export const OtaMetadataBundle = z.object({ roots: z.array(OtaSignedRoot).max(64), targets: OtaSignedTargets }).strict();
export type OtaMetadataBundle = z.infer<typeof OtaMetadataBundle>;

/** Server -> device on `vigil/{device}/cmd`. */
export const OtaCommand = z.discriminatedUnion("op", [
  z.object({ type: z.literal("ota"), op: z.literal("update"), campaign: z.string(), target: z.string(), version: z.string() }),
  z.object({ type: z.literal("ota"), op: z.literal("rollback"), campaign: z.string() }),
  z.object({ type: z.literal("ota"), op: z.literal("commit"), campaign: z.string() }),
]);
export type OtaCommand = z.infer<typeof OtaCommand>;

export const OtaDeviceState = z.enum(["downloading", "verified", "installing", "installed", "failed", "rolled_back"]);
export type OtaDeviceState = z.infer<typeof OtaDeviceState>;

/** Why a device refused or lost an update (what `failed` and `rolled_back` reports carry). */
export const OtaFailureReason = z.enum([
  "metadata_unavailable",
  "metadata_invalid",
  "signature_invalid",
  "metadata_expired",
  "metadata_rollback",
  "target_unknown",
  "wrong_hardware",
  "wrong_profile",
  "downgrade",
  "counter_rollback",
  "min_version",
  "download_failed",
  "length_mismatch",
  "hash_mismatch",
  "install_failed",
  "boot_check_failed",
  "campaign_rollback",
  "no_previous_version",
  "busy",
]);
export type OtaFailureReason = z.infer<typeof OtaFailureReason>;

/** Device -> server on `vigil/{device}/ack` (at most 4 KiB, the control channel's limit). */
export const OtaReport = z
  .object({
    type: z.literal("ota"),
    campaign: z.string().max(64),
    state: OtaDeviceState,
    /** The version the device runs after this step. */
    version: z.string().max(64).nullable(),
    reason: OtaFailureReason.optional(),
    detail: z.string().max(300).optional(),
  })
  .strict();
export type OtaReport = z.infer<typeof OtaReport>;

// ---- operator API ----

export const OtaKeysRequest = z.object({ algorithm: OtaKeyType.default("ed25519") }).strict();
export const OtaRotateRequest = z
  .object({ role: z.enum(["targets", "root", "both"]).default("targets"), algorithm: OtaKeyType.optional() })
  .strict();
export const OtaKeysResponse = z.object({
  rootVersion: z.number().int(),
  targetsVersion: z.number().int(),
  algorithm: OtaKeyType,
  rootKeyIds: z.array(z.string()),
  targetsKeyIds: z.array(z.string()),
  rootExpires: z.string(),
  targetsExpires: z.string(),
});
export type OtaKeysResponse = z.infer<typeof OtaKeysResponse>;

export const OtaArtifactQuery = z
  .object({
    version: z.string().refine(isSemver, "not a semantic version"),
    profile: z.string().min(1).max(64),
    hardware: z.string().max(1024).optional().describe("comma-separated hardware ids"),
    minVersion: z.string().refine(isSemver, "not a semantic version").optional(),
    counter: z.coerce
      .number()
      .int()
      .min(0)
      .max(2 ** 31)
      .optional(),
    sbomRef: z.string().max(512).optional(),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/)
      .optional(),
  })
  .strict();
export type OtaArtifactQuery = z.infer<typeof OtaArtifactQuery>;

export const OtaArtifactDto = z.object({
  name: z.string(),
  version: z.string(),
  profile: z.string(),
  hardware: z.array(z.string()),
  minVersion: z.string().nullable(),
  counter: z.number().int(),
  sha256: z.string(),
  length: z.number().int(),
  sbomRef: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
});
export type OtaArtifactDto = z.infer<typeof OtaArtifactDto>;

export const OtaCampaignState = z.enum([
  "draft",
  "running",
  "paused",
  "halted",
  "completed",
  "cancelled",
  "rolling_back",
  "rolled_back",
]);
export type OtaCampaignState = z.infer<typeof OtaCampaignState>;

export const OtaMaintenanceWindow = z
  .object({
    start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "HH:MM (UTC)"),
    end: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "HH:MM (UTC)"),
  })
  .strict();

export const CreateCampaignRequest = z
  .object({
    name: z.string().min(1).max(128),
    artifact: z.string().min(1).max(128),
    target: z
      .object({
        profile: z.string().min(1).max(64).optional(),
        tags: z.array(z.string().min(1).max(64)).max(16).optional(),
        tiers: z
          .array(z.enum(["quarantine", "restricted", "standard", "trusted"]))
          .max(4)
          .optional(),
        devices: z.array(z.string().min(1).max(128)).max(100_000).optional(),
      })
      .strict(),
    canaryPercent: z.number().min(0).max(100).default(5),
    wavePercent: z.number().min(1).max(100).default(25),
    maxPerMinute: z.number().int().min(1).max(1_000_000).default(600),
    failureThresholdPercent: z.number().min(0).max(100).default(10),
    trustDropThresholdPercent: z.number().min(0).max(100).default(10),
    rollback: z.enum(["automatic", "manual"]).default("automatic"),
    window: OtaMaintenanceWindow.nullable().default(null),
    deviceTimeoutSeconds: z
      .number()
      .int()
      .min(5)
      .max(7 * 86_400)
      .default(1800),
  })
  .strict();
export type CreateCampaignRequest = z.input<typeof CreateCampaignRequest>;

export const OtaCampaignCounts = z.object({
  pending: z.number().int(),
  notified: z.number().int(),
  downloading: z.number().int(),
  verified: z.number().int(),
  installing: z.number().int(),
  installed: z.number().int(),
  failed: z.number().int(),
  rollback_sent: z.number().int(),
  rolled_back: z.number().int(),
  skipped: z.number().int().describe("offline when its wave was told: left on its current version"),
});
export type OtaCampaignCounts = z.infer<typeof OtaCampaignCounts>;

export const OtaCampaignDto = z.object({
  id: z.string(),
  name: z.string(),
  artifact: z.string(),
  version: z.string(),
  state: OtaCampaignState,
  wave: z.number().int().describe("the wave in progress: 0 is the canary"),
  waves: z.number().int(),
  devices: z.number().int(),
  counts: OtaCampaignCounts,
  options: z.object({
    canaryPercent: z.number(),
    wavePercent: z.number(),
    maxPerMinute: z.number(),
    failureThresholdPercent: z.number(),
    trustDropThresholdPercent: z.number(),
    rollback: z.enum(["automatic", "manual"]),
    window: OtaMaintenanceWindow.nullable(),
    deviceTimeoutSeconds: z.number(),
  }),
  haltReason: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string(),
});
export type OtaCampaignDto = z.infer<typeof OtaCampaignDto>;

export const OtaCampaignDeviceDto = z.object({
  device: z.string(),
  wave: z.number().int(),
  state: z.string(),
  fromVersion: z.string().nullable(),
  reason: z.string().nullable(),
  updatedAt: z.string(),
});
export type OtaCampaignDeviceDto = z.infer<typeof OtaCampaignDeviceDto>;
