// The detection module's front door: per-device features from the gateway's observer and
// signals, rules with inline blocking, and the robust-baseline anomaly model (docs/detection.md).
export {
  DETECTION_DEFAULTS,
  DRIFT_DEFAULTS,
  RULE_DEFAULTS,
  detectionConfigSchema,
  rulesFor,
  type DetectionConfig,
  type RuleSettings,
} from "./detection-config.js";
export {
  Detector,
  RULE_SPECS,
  explain,
  type Action,
  type DetectionEnforcer,
  type DetectorDeps,
  type Finding,
  type ProfileEnvelope,
} from "./detector.js";
export { DetectionService, type DetectionServiceDeps } from "./detection-service.js";
export { RULES, type RuleId, DeviceState, PeerGroup } from "./device-state.js";
export { FEATURES, FEATURE_COUNT, RobustBaseline, type FeatureName } from "./robust-baseline.js";
export { Decayed } from "./decayed.js";
export {
  DriftScratch,
  FieldTable,
  PayloadDrift,
  observeFields,
  scanNumbers,
  subtopicSeed,
  type DriftReading,
  type DriftSettings,
} from "./payload-drift.js";
export {
  NETWORK_ATTRIBUTION_DEFAULTS,
  NetworkAttribution,
  hostOfEndpoint,
  type NetworkAttributionConfig,
  type ScanEvidence,
} from "./network-attribution.js";
export { AssetDirectory, type AssetStatus, type AssetView } from "./asset-directory.js";
