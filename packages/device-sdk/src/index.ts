export { probeServer, DeviceSdkError } from "./server-probe.js";
export {
  enroll,
  renew,
  loadCredentials,
  ensureDeviceKey,
  publicKeyFingerprint,
  CertificateRenewer,
  type Attestation,
  type DeviceCredentials,
  type EnrollOptions,
  type Posture,
} from "./enroll.js";
export { connect, type ConnectOptions, type DeviceConnection } from "./connect.js";
export { reprovision, ReprovisionAgent, type ReprovisionAgentOptions, type ReprovisionOptions } from "./reprovision.js";
export {
  OtaAgent,
  OtaRefused,
  updateRoot,
  checkTargets,
  type FirmwareSlots,
  type OtaAgentOptions,
  type OtaOutcome,
} from "./ota.js";
