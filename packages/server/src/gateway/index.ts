// The gateway module's front door: the MQTT 3.1.1 broker over mutual TLS that authenticates
// devices at CONNECT and enforces their policy on every SUBSCRIBE and PUBLISH.
export { MQTT_DEFAULTS, mqttConfigSchema, type MqttConfig } from "./gateway-config.js";
export { Gateway, type GatewayDeps, type GatewaySettings, type ProfileSource, type SessionInfo } from "./gateway.js";
export {
  LEGACY_PASSWORD_MAX_CHARS,
  LEGACY_PASSWORD_MIN_CHARS,
  LegacyPasswords,
  type LegacyCredential,
  type LegacyCredentialRepository,
} from "./legacy-passwords.js";
export { DefaultTierSource, type TierSource } from "./tier-source.js";
export { SourceLimiter } from "./source-limiter.js";
export type { EndReason } from "./session.js";
