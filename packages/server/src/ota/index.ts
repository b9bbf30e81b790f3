// The ota module's front door: the update repository (TUF-style signed metadata, keys in the
// key vault, firmware images) and the campaign engine (staged rollout, halt, rollback).
export { OTA_DEFAULTS, otaConfigSchema, type OtaConfig } from "./ota-config.js";
export { UpdateRepository, type UpdateRepositoryDeps, type ArtifactManifestInput } from "./update-repository.js";
export { CampaignService, type CampaignServiceDeps } from "./campaign-service.js";
export { repositoryFleet } from "./fleet-directory.js";
export { planWaves, inMaintenanceWindow, haltReason, NotifyBudget } from "./waves.js";
export {
  TARGET_STATES,
  type OtaArtifactRecord,
  type OtaMetadataRecord,
  type OtaRole,
  type OtaRepository,
  type CampaignOptions,
  type CampaignSelector,
  type CampaignRecord,
  type CampaignTargetRecord,
  type TargetState,
  type DeviceNotifier,
  type FleetDirectory,
} from "./ports.js";
