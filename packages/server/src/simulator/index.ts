export { behaviours, behaviourOf, type Behaviour, type OutgoingMessage, type TickContext } from "./behaviours.js";
export { Fleet, pool, type FleetOptions, type FleetStats } from "./fleet.js";
export { FleetManifest, MANIFEST_FILE, caFingerprint, readFleetManifest, writeFleetManifest } from "./fleet-identities.js";
export { allocate, isMixName, mixes, type MixName } from "./mixes.js";
export { AuditFollower, OBSERVED_SIGNALS, SignalObserver, toObserved, type AuditPage, type ObservedSignal } from "./observer.js";
export { createRandom, type Random } from "./random.js";
export { writeScanCapture, type ScanCaptureOptions, type ScanCaptureResult } from "./network-scan.js";
export { analyse, formatReport, type AttackOutcome, type RunReport } from "./report.js";
export {
  DRIFT_MIN_READINGS,
  driftRampMs,
  isScenarioName,
  pickDevice,
  runScenario,
  scenarioNames,
  gatewayScenarioNames,
  type GatewayScenarioName,
  scenarios,
  unavailableScenarios,
  type AttackContext,
  type GroundTruth,
  type ScenarioName,
} from "./scenarios.js";
export { TOKENS_PER_REQUEST, defaultMqttUrl, platformTarget, type SimTarget } from "./target.js";
export { defaultTimeline, runTimeline, type TimelineEntry, type TimelineRun } from "./timeline.js";
export { VirtualDevice, type DeviceStats, type VirtualDeviceOptions } from "./virtual-device.js";
