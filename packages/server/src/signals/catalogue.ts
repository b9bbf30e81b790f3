import type { EventBus } from "../core/index.js";

/**
 * The one catalogue of security signals (STYLE habit 8): dotted, past-tense names for
 * facts. Commands never travel as signals; they go through ports.
 * docs/signals.md is generated from `signalDescriptions` and a test keeps it in sync.
 */
export interface SignalMap {
  "platform.started": { version: string; apiUrl: string };
  "platform.stopping": { reason: string };
  "operator.created": { operator: string; by: string; role?: string; sites?: string[] };
  "operator.password_changed": { operator: string };
  "auth.succeeded": { operator: string; tokenId: string; remote: string };
  "auth.failed": {
    username: string;
    remote: string;
    reason: "unknown_operator" | "bad_password" | "disabled" | "bad_second_factor" | "locked";
  };
  "auth.denied": { remote: string; route: string; code: string; tokenId?: string };
  "token.issued": { operator: string; tokenId: string; scopes: string[]; expiresAt: string };
  "token.revoked": { operator: string; tokenId: string };
  "auth.mfa_challenged": { operator: string; remote: string };
  "auth.locked": { target: string; remote: string; kind: "account" | "source"; until: string };
  "operator.mfa_enrolled": { operator: string; method: "totp" | "webauthn" };
  "operator.recovery_codes_issued": { operator: string; count: number };
  "operator.recovery_code_used": { operator: string; remaining: number };
  "operator.mfa_reset": { operator: string; by: string };
  "operator.disabled": { operator: string; by: string };
  "operator.enabled": { operator: string; by: string };
  "session.opened": { operator: string; sessionId: string; remote: string; mfa: boolean };
  "session.closed": { operator: string; sessionId: string };
  "keys.rotated": { by: string; previousMasterKeyId: string; masterKeyId: string; vaultItems: number; dataKeys: number };
  "device.registered": { device: string; profile: string | null; by: string };
  "device.preregistered": { count: number; by: string };
  "device.legacy_password_set": { device: string; by: string };
  "device.legacy_auth_used": { device: string; remote: string };
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
  "ota.keys_created": { algorithm: string; rootKeyIds: string[]; targetsKeyIds: string[]; by: string };
  "ota.keys_rotated": {
    role: "targets" | "root" | "both";
    rootVersion: number;
    revokedKeyIds: string[];
    newKeyIds: string[];
    by: string;
  };
  "ota.artifact_added": { artifact: string; version: string; profile: string; sha256: string; length: number; by: string };
  "ota.installed": { device: string; version: string; previousVersion: string | null; campaign: string };
  "ota.failed": { device: string; version: string; campaign: string; reason: string; runningVersion: string | null };
  "ota.rolled_back": { device: string; version: string | null; campaign: string; reason: string };
  "ota.refused": { device: string; campaign: string; reason: string; version: string | null };
  "drill.started": { drill: string; name: string; devices: number; prefixes: string[]; until: string; by: string };
  "drill.ended": { drill: string; by: string };
  "campaign.created": { campaign: string; name: string; artifact: string; devices: number; waves: number; by: string };
  "campaign.started": { campaign: string; by: string };
  "campaign.paused": { campaign: string; by: string };
  "campaign.resumed": { campaign: string; by: string };
  "campaign.wave_started": { campaign: string; wave: number; devices: number };
  "campaign.halted": {
    campaign: string;
    reason: "failures" | "trust_drop";
    wave: number;
    failed: number;
    trustDrops: number;
    attempted: number;
    thresholdPercent: number;
  };
  "campaign.rollback_started": { campaign: string; devices: number; by: string };
  "campaign.rolled_back": { campaign: string; rolledBack: number; failed: number };
  "campaign.completed": { campaign: string; installed: number; failed: number };
  "campaign.cancelled": { campaign: string; by: string; told: number };
  "finding.raised": {
    id: string;
    device: string;
    rule: string;
    severity: "low" | "medium" | "high" | "critical";
    category: "exfiltration" | "flood" | "scanning" | "brute-force" | "identity" | "anomaly" | "policy" | "other";
    evidence: string;
  };
  "vulnerability.found": {
    device: string;
    advisoryId: string;
    severity: "low" | "medium" | "high" | "critical";
    cvss: number | null;
  };
  "vulnerability.resolved": { device: string; advisoryId: string; firmwareVersion: string | null };
  "sbom.imported": {
    id: string;
    profile: string | null;
    firmwareVersion: string;
    components: number;
    issues: number;
    by: string;
  };
  "advisories.imported": {
    records: number;
    imported: number;
    rejected: number;
    inserted: number;
    updated: number;
    unchanged: number;
    by: string;
  };
  "vex.imported": { statements: number; added: number; by: string };
  "assessment.checks_completed": { runId: string; trigger: string; failed: string[]; warnings: string[] };
  "report.generated": {
    report: string;
    format: string;
    sha256: string;
    bytes: number;
    generatedAt: string;
    vertical: string;
    by: string;
  };
  "trust.changed": { device: string; from: string | null; to: string; score: number; tier: string; reasons: string[] };
  "incident.opened": { incident: string; device: string; severity: string; rule: string };
  "incident.state_changed": { incident: string; device: string; from: string; to: string; reason: string; by: string };
  "incident.noted": { incident: string; device: string; by: string };
  "response.action_taken": {
    incident: string;
    device: string;
    action: string;
    outcome: "done" | "failed" | "skipped" | "sent";
    detail: string;
    by: string;
  };
  "response.approval_requested": {
    incident: string;
    device: string;
    approval: string;
    actions: string[];
    reason: string;
    expiresAt: string;
    onTimeout: string;
  };
  "response.approval_decided": {
    incident: string;
    device: string;
    approval: string;
    decision: "approved" | "denied" | "timed_out";
    by: string;
  };
  "notification.dead_lettered": { event: string; type: string; incident: string; sink: string; attempts: number; error: string };
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
  "auth.mfa_challenged": "A login's password was right and a second factor was asked for (no token yet).",
  "auth.locked":
    "Repeated failed logins locked an operator name or a source address for a while (the wait doubles with each further failure).",
  "operator.mfa_enrolled": "An operator enrolled a second factor (TOTP or a WebAuthn key).",
  "operator.recovery_codes_issued": "An operator received a new set of recovery codes (the old ones stop working).",
  "operator.recovery_code_used": "An operator logged in with a recovery code (how many are left).",
  "operator.mfa_reset": "An admin removed an operator's second factors; its tokens and sessions ended.",
  "operator.disabled": "An admin disabled an operator; its tokens and sessions ended.",
  "operator.enabled": "An admin enabled an operator again.",
  "session.opened": "An operator opened a console session (cookie).",
  "session.closed": "A console session was closed (logout).",
  "keys.rotated": "The master key was rotated: every vault item and data key re-wrapped under the new key.",
  "device.registered": "An operator pre-registered a device; it stays pending until it enrolls.",
  "device.preregistered": "An operator imported pre-registered devices (id + public-key fingerprint).",
  "device.legacy_password_set": "An operator set a legacy device's MQTT password (stored as argon2id).",
  "device.legacy_auth_used":
    "A legacy device opened an MQTT session with username/password instead of a certificate (lower trust).",
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
  "ota.keys_created": "The OTA root and targets signing keys were created (sealed in the key vault) and root metadata v1 signed.",
  "ota.keys_rotated":
    "OTA signing keys were rotated: a new root version signed by the old and new root keys; signatures by the revoked keys are refused from now on.",
  "ota.artifact_added": "A firmware image and its manifest were added and the targets metadata re-signed.",
  "ota.installed": "A device reported a verified installation (boot check passed); its firmware version was updated.",
  "ota.failed": "A device refused or failed an update (the reason says which check); it keeps running its current version.",
  "ota.rolled_back": "A device went back to its previous firmware (campaign rollback, or its boot check failed).",
  "drill.started":
    "An operator registered a drill: until it ends, audit entries, incidents and outgoing events about its devices carry its id.",
  "drill.ended": "An operator ended a drill early: what its devices do afterwards is no longer tagged.",
  "ota.refused":
    "A device refused an update no campaign of Vigil's sent it (a tampered image, a downgrade, another signer): someone else tried to change its firmware.",
  "campaign.created": "An update campaign was created with its target devices split into a canary and waves.",
  "campaign.started": "An operator started an update campaign.",
  "campaign.paused": "An operator paused an update campaign (no new device is told to update).",
  "campaign.resumed": "An operator resumed a paused or halted update campaign.",
  "campaign.wave_started": "A campaign began a wave (0 is the canary): its devices will be told to update.",
  "campaign.halted": "A campaign halted itself: failures or trust drops among the devices it updated exceeded its threshold.",
  "campaign.rollback_started":
    "A campaign's updated devices were told to return to their previous firmware (automatic or by an operator).",
  "campaign.rolled_back": "Every device a campaign told to roll back has answered (or timed out).",
  "campaign.completed": "Every wave of a campaign finished under its failure threshold; updated devices were told to commit.",
  "campaign.cancelled":
    "An operator cancelled a campaign: no further device is told; devices already updated keep the new version (roll back first to undo).",
  "finding.raised":
    "Detection raised a finding about a device (rule, severity, category, evidence); trust adds it to the device's behaviour debt.",
  "vulnerability.found":
    "Assessment matched a known advisory to a device's firmware or SBOM (advisory id, severity, CVSS); trust counts it until resolved.",
  "vulnerability.resolved":
    "A device no longer has a known vulnerability (patched firmware, or the advisory withdrawn); trust counts the time it took.",
  "sbom.imported": "A CycloneDX SBOM was imported for a firmware version (components kept, issues found).",
  "advisories.imported": "OSV advisories were imported offline (records read, imported, rejected with per-record errors).",
  "vex.imported": "CycloneDX VEX statements (not_affected, false_positive) were imported; they suppress matching findings.",
  "assessment.checks_completed": "The audit checks ran (scheduled, on demand or for a report): the ids that failed or warned.",
  "report.generated":
    "A compliance report was generated: format, SHA-256 of the exact bytes, time and operator (its proof of origin).",
  "trust.changed":
    "A device's trust tier changed (from, to, score and the reasons); its live session's policy was narrowed or widened at once.",
  "incident.opened": "Evidence about a device (a finding, a cloned identity, a replayed token) opened an incident.",
  "incident.state_changed":
    "An incident moved through its lifecycle (open, contained, recovering, resolved, closed), by whom and why.",
  "incident.noted": "An operator added a note to an incident's timeline.",
  "response.action_taken":
    "A playbook or an operator acted on an incident's device (throttle, quarantine, disconnect, revoke, reattest, reprovision, rollback, notify, release, readmit): done, sent (waiting for the device), failed or skipped.",
  "response.approval_requested":
    "Disruptive actions on a safety-critical device wait for an operator's approval (until when, and the safe default on timeout).",
  "response.approval_decided": "Pending disruptive actions were approved, denied, or timed out (the safe default applied).",
  "notification.dead_lettered":
    "An outgoing incident event could not be delivered after every retry; it is kept as a dead letter.",
};
