import type { EventBus } from "../core/index.js";

/**
 * The one catalogue of security signals (STYLE habit 8): dotted, past-tense names for
 * facts. Commands never travel as signals; they go through ports.
 * docs/signals.md is generated from `signalDescriptions` and a test keeps it in sync.
 */
export interface SignalMap {
  "platform.started": { version: string; apiUrl: string };
  "platform.stopping": { reason: string };
  "operator.created": { operator: string; by: string };
  "operator.password_changed": { operator: string };
  "auth.succeeded": { operator: string; tokenId: string; remote: string };
  "auth.failed": { username: string; remote: string; reason: "unknown_operator" | "bad_password" };
  "auth.denied": { remote: string; route: string; code: string; tokenId?: string };
  "token.issued": { operator: string; tokenId: string; scopes: string[]; expiresAt: string };
  "token.revoked": { operator: string; tokenId: string };
  "device.registered": { device: string; profile: string | null; by: string };
  "device.preregistered": { count: number; by: string };
  "enrollment.completed": {
    device: string;
    method: "manufacturer-certificate" | "pre-registered-key" | "claim-token";
    strength: number;
    profile: string | null;
    firmwareVersion: string | null;
    sbomRef: string | null;
    keyType: string;
    serial: string;
    remote: string;
  };
  "enrollment.failed": { code: string; device: string | null; remote: string };
  "enrollment.token_replayed": { tokenId: string; device: string | null; remote: string };
  "enrollment.tokens_created": {
    by: string;
    profile: string;
    count: number;
    deviceId: string | null;
    ids: string[];
    expiresAt: string;
  };
  "identity.issued": { device: string; serial: string; notAfter: string; renewal: boolean };
  "identity.revoked": { device: string; serials: string[]; reason: string; by: string };
  "manufacturer.added": { id: string; name: string; caSha256: string; by: string };
  "manufacturer.revoked": { id: string; name: string; by: string };
  "asset.discovered": { mac: string | null; ip: string | null; firstSeen: string; source: string };
  "asset.identified": { mac: string | null; ip: string | null; deviceType: string; confidence: number; source: string };
  "network.anomaly_detected": {
    at: string;
    packet: number;
    score: number;
    threshold: number;
    src: string;
    dst: string;
    protocol: string;
    deviations: { statistic: string; value: number; trainedMin: number; trainedMax: number }[];
    source: string;
  };
  "gateway.connected": { device: string; remote: string; serial: string; profile: string | null; tier: string };
  "gateway.connect_refused": { device: string | null; reason: string; remote: string; returnCode: number };
  "gateway.denied": { device: string; action: "publish" | "subscribe"; topic: string; reason: string; rule: string; qos: number };
  "gateway.throttled": {
    device: string;
    action: "publish";
    topic: string;
    reason: string;
    dropped: number;
    ratePerSecond: number;
  };
  "gateway.disconnected": { device: string; remote: string; reason: string; topic: string | null };
  "gateway.policy_changed": { device: string; from: string; to: string; reason: string; sessions: number };
  "identity.cloned_suspected": { device: string; remotes: string[]; sameHost: boolean; serials: string[] };
}

export type SignalName = keyof SignalMap;
export type SignalBus = EventBus<SignalMap>;

export const signalDescriptions: Record<SignalName, string> = {
  "platform.started": "Every service has started and the API is ready.",
  "platform.stopping": "A graceful shutdown began (signal or operator).",
  "operator.created": "An operator account was created (including the first admin).",
  "operator.password_changed": "An operator changed their password.",
  "auth.succeeded": "An operator logged in and received an API token.",
  "auth.failed": "A login attempt failed (unknown operator or wrong password).",
  "auth.denied": "An API request was refused for a missing, bad, expired or under-scoped token.",
  "token.issued": "An API token was issued.",
  "token.revoked": "An API token was revoked.",
  "device.registered": "An operator pre-registered a device; it stays pending until it enrolls.",
  "device.preregistered": "An operator imported pre-registered devices (id + public-key fingerprint).",
  "enrollment.completed": "A device enrolled: attestation method and strength, declared posture, certificate serial.",
  "enrollment.failed": "An enrollment or renewal was refused (the code says why).",
  "enrollment.token_replayed": "A claim token was presented a second time: a possible stolen or cloned token.",
  "enrollment.tokens_created": "An operator created claim tokens (ids only, never the secrets).",
  "identity.issued": "A device certificate was issued (enrollment or renewal).",
  "identity.revoked": "A device and its certificates were revoked; the gateway cuts live sessions at once.",
  "manufacturer.added": "A manufacturer CA was registered for factory-certificate attestation.",
  "manufacturer.revoked": "A manufacturer CA was revoked: its devices can no longer enroll with their factory certificates.",
  "asset.discovered": "A host (MAC and/or IP) not matching any enrolled device was seen on the network for the first time.",
  "asset.identified": "A discovered host's device type was identified from its traffic (type and confidence).",
  "network.anomaly_detected":
    "The packet anomaly detector scored a packet above its threshold; carries the statistics that deviated most.",
  "gateway.connected": "A device opened an MQTT session over mutual TLS (certificate serial, profile and tier in force).",
  "gateway.connect_refused":
    "An MQTT connection was refused at CONNECT or before it (unknown or revoked certificate, client id not the certificate's, connection flood from one source...).",
  "gateway.denied":
    "A PUBLISH or SUBSCRIBE was denied by the device's policy (a denied PUBLISH also disconnects it; a denied SUBSCRIBE gets SUBACK 0x80).",
  "gateway.throttled":
    "A device published over its profile's rate: the messages were dropped (coalesced: at most one signal per device per second, with the count).",
  "gateway.disconnected":
    "A device's MQTT session ended, and why (policy violation, sustained flooding, revocation, takeover, protocol error, client closed).",
  "gateway.policy_changed": "A device's tier changed and its live sessions' policy was recompiled at once (e.g. quarantine).",
  "identity.cloned_suspected":
    "A device certificate connected while a session of the same device was still live (MQTT takeover): a possible cloned identity.",
};
