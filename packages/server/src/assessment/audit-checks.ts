import type { CertificateRecord, DeviceRecord } from "../identity/index.js";
import type { Profile } from "../policy/index.js";
import type { FleetSnapshot } from "./fleet-snapshot.js";
import { compareVersions, schemeOfPurlType } from "./versions.js";

/**
 * Configuration audit checks in the manner of AWS IoT Device Defender Audit: each has a
 * stable id (part of the API and reports: never renamed), a severity, a remediation hint,
 * and computes its status from a `FleetSnapshot` alone (pure, testable with a fixed clock).
 */

export type CheckStatus = "pass" | "fail" | "warning" | "not_applicable" | "not_assessed" | "error";
export type CheckSeverity = "low" | "medium" | "high" | "critical";

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly severity: CheckSeverity;
  readonly status: CheckStatus;
  /** One sentence: what was found. */
  readonly summary: string;
  readonly remediation: string;
  /** The facts the status was computed from (counts, thresholds, the source asked). */
  readonly evidence: Record<string, unknown>;
  /** What is affected: device ids, profile ids, token ids, CA names (at most 100 listed). */
  readonly affected: string[];
  readonly affectedCount: number;
}

interface Outcome {
  readonly status: CheckStatus;
  readonly summary: string;
  readonly evidence: Record<string, unknown>;
  readonly affected?: readonly string[];
}

export interface CheckDefinition {
  readonly id: string;
  readonly title: string;
  readonly severity: CheckSeverity;
  readonly remediation: string;
  run(s: FleetSnapshot): Outcome;
}

const DAY = 86_400_000;
const MAX_LISTED = 100;

const days = (ms: number) => Math.round((ms / DAY) * 10) / 10;

/** Devices that hold (or may hold) a live identity: enrolled and not revoked. */
function liveDevices(s: FleetSnapshot): DeviceRecord[] {
  return s.devices.filter((d) => d.state === "active" || d.state === "quarantined");
}

function currentCert(s: FleetSnapshot, d: DeviceRecord): CertificateRecord | undefined {
  const c = s.certificates.get(d.id);
  return c !== undefined && c.revokedAt === null ? c : undefined;
}

const ACCEPTED_KEYS = /^(EC-P256|EC-P384|EC-P521|RSA-(\d+))$/;

/** Why a profile's topics reach beyond one device: wildcards, and templates without `{device}`. */
export function profilePermissiveness(p: Profile): string[] {
  const reasons: string[] = [];
  const wild = p.subscribe.filter((t) => /(^|\/)[+#](\/|$)/.test(t));
  if (p.subscribeWildcards || wild.length > 0) reasons.push(`subscribe wildcards: ${wild.join(", ") || "(allowed)"}`);
  const shared = [...p.publish.map((t) => `publish ${t}`), ...p.subscribe.map((t) => `subscribe ${t}`)].filter(
    (t) => !t.split(" ")[1]?.split("/").includes("{device}"),
  );
  if (shared.length > 0) reasons.push(`cross-device topics (no {device} level): ${shared.join(", ")}`);
  return reasons;
}

/** The newest firmware version known per profile: from its SBOMs and from its devices. */
export function newestFirmware(s: FleetSnapshot): Map<string, string> {
  const newest = new Map<string, string>();
  const offer = (profile: string | null, version: string | null) => {
    if (profile === null || version === null) return;
    const current = newest.get(profile);
    try {
      if (current === undefined || compareVersions(schemeOfPurlType("generic"), version, current) > 0)
        newest.set(profile, version);
    } catch {
      // An unparsable firmware version is never "the newest"; the device is listed as unknown.
    }
  };
  for (const sbom of s.sboms) offer(sbom.profile, sbom.firmwareVersion);
  for (const d of s.devices) if (d.state !== "revoked") offer(d.profile, d.firmwareVersion);
  return newest;
}

export const AUDIT_CHECKS: readonly CheckDefinition[] = [
  {
    id: "ca-cert-expiring",
    title: "CA certificate expiring",
    severity: "critical",
    remediation:
      "Plan the CA rollover before the date: import a new issuing CA with `vigil ca import` (or let Vigil create one) and let devices renew onto it; every device certificate dies with its issuing CA.",
    run: (s) => {
      const warn = s.settings.caExpiryWarningDays * DAY;
      const rows = s.ca.map((c) => ({
        name: c.name,
        subject: c.subject,
        notAfter: new Date(c.notAfter).toISOString(),
        daysLeft: days(c.notAfter - s.now),
      }));
      const expired = s.ca.filter((c) => c.notAfter <= s.now);
      const soon = s.ca.filter((c) => c.notAfter > s.now && c.notAfter - s.now <= warn);
      const urgent = soon.filter((c) => c.notAfter - s.now <= 30 * DAY);
      const affected = [...expired, ...soon].map((c) => c.name);
      const evidence = { thresholdDays: s.settings.caExpiryWarningDays, certificates: rows };
      if (expired.length > 0 || urgent.length > 0) {
        return {
          status: "fail",
          summary: `${affected.join(", ")} CA certificate expired or expires within 30 days`,
          evidence,
          affected,
        };
      }
      if (soon.length > 0) {
        return {
          status: "warning",
          summary: `${affected.join(", ")} CA certificate expires within ${s.settings.caExpiryWarningDays} days`,
          evidence,
          affected,
        };
      }
      return {
        status: "pass",
        summary: `every CA certificate is valid for more than ${s.settings.caExpiryWarningDays} days`,
        evidence,
      };
    },
  },
  {
    id: "device-cert-expiring",
    title: "Device certificates expiring or expired",
    severity: "high",
    remediation:
      "Check that these devices run the renewer (SDK `CertificateRenewer`, or simplereenroll at 2/3 of the lifetime) and reach Vigil; an expired certificate cannot renew: re-enroll the device.",
    run: (s) => {
      const warn = s.settings.certExpiryWarningDays * DAY;
      const expired: string[] = [];
      const soon: string[] = [];
      let checked = 0;
      for (const d of liveDevices(s)) {
        const c = currentCert(s, d);
        if (c === undefined) continue;
        checked += 1;
        if (c.notAfter <= s.now) expired.push(d.id);
        else if (c.notAfter - s.now <= warn) soon.push(d.id);
      }
      const evidence = {
        devicesChecked: checked,
        expired: expired.length,
        expiringSoon: soon.length,
        thresholdDays: s.settings.certExpiryWarningDays,
      };
      if (expired.length > 0)
        return {
          status: "fail",
          summary: `${expired.length} device certificate(s) expired, ${soon.length} expiring`,
          evidence,
          affected: [...expired, ...soon],
        };
      if (soon.length > 0)
        return {
          status: "warning",
          summary: `${soon.length} device certificate(s) expire within ${s.settings.certExpiryWarningDays} days`,
          evidence,
          affected: soon,
        };
      return {
        status: "pass",
        summary: `no device certificate expires within ${s.settings.certExpiryWarningDays} days`,
        evidence,
      };
    },
  },
  {
    id: "device-cert-too-old",
    title: "Device certificates too old or too long-lived",
    severity: "medium",
    remediation:
      "Short-lived certificates limit what a stolen key is worth: revoke these and re-enroll the devices, or let them renew with the configured lifetime (pki.deviceCertValidityDays).",
    run: (s) => {
      const policy = s.settings.deviceCertValidityDays * DAY;
      const tooLong: string[] = [];
      const tooOld: string[] = [];
      for (const d of liveDevices(s)) {
        const c = currentCert(s, d);
        if (c === undefined) continue;
        if (c.notAfter - c.notBefore > policy + DAY) tooLong.push(d.id);
        if (s.now - c.notBefore > policy + DAY) tooOld.push(d.id);
      }
      const affected = [...new Set([...tooLong, ...tooOld])];
      const evidence = {
        policyDays: s.settings.deviceCertValidityDays,
        lifetimeAbovePolicy: tooLong.length,
        olderThanPolicy: tooOld.length,
      };
      if (affected.length > 0)
        return {
          status: "fail",
          summary: `${affected.length} device certificate(s) live longer than the ${s.settings.deviceCertValidityDays}-day policy`,
          evidence,
          affected,
        };
      return {
        status: "pass",
        summary: `every device certificate is within the ${s.settings.deviceCertValidityDays}-day lifetime`,
        evidence,
      };
    },
  },
  {
    id: "device-cert-shared-key",
    title: "Device key shared between devices",
    severity: "critical",
    remediation:
      "One key, one device: a key on two devices was copied (cloned device or a shared factory image). Revoke every device listed (`vigil devices revoke ID --reason keyCompromise`) and re-enroll each with a key it makes itself.",
    run: (s) => {
      const byKey = new Map<string, string[]>();
      for (const d of liveDevices(s)) {
        const c = currentCert(s, d);
        if (c === undefined) continue;
        byKey.set(c.keySha256, [...(byKey.get(c.keySha256) ?? []), d.id]);
      }
      const shared = [...byKey.entries()].filter(([, ids]) => ids.length > 1);
      const affected = shared.flatMap(([, ids]) => ids);
      const evidence = { keysChecked: byKey.size, sharedKeys: shared.map(([key, ids]) => ({ keySha256: key, devices: ids })) };
      if (shared.length > 0)
        return {
          status: "fail",
          summary: `${shared.length} key(s) are used by more than one device (${affected.length} devices)`,
          evidence,
          affected,
        };
      return { status: "pass", summary: `every device has its own key (${byKey.size} keys checked)`, evidence };
    },
  },
  {
    id: "device-cert-weak-key",
    title: "Device keys weak or unknown",
    severity: "high",
    remediation: "Re-enroll these devices with an EC P-256/P-384 key (or RSA >= 2048; 3072 for use past 2030, NIST SP 800-57).",
    run: (s) => {
      const weak: string[] = [];
      const unknown: string[] = [];
      const byType: Record<string, number> = {};
      for (const d of liveDevices(s)) {
        const type = d.keyType;
        byType[type ?? "unknown"] = (byType[type ?? "unknown"] ?? 0) + 1;
        if (type === null) unknown.push(d.id);
        else {
          const m = ACCEPTED_KEYS.exec(type);
          if (m === null || (m[2] !== undefined && Number(m[2]) < 2048)) weak.push(d.id);
        }
      }
      const evidence = { keyTypes: byType, accepted: "EC P-256, P-384, P-521; RSA >= 2048" };
      if (weak.length > 0)
        return { status: "fail", summary: `${weak.length} device(s) have a weak key`, evidence, affected: weak };
      if (unknown.length > 0)
        return {
          status: "warning",
          summary: `${unknown.length} live device(s) have no recorded key type`,
          evidence,
          affected: unknown,
        };
      return { status: "pass", summary: "every live device key is of an accepted type and size", evidence };
    },
  },
  {
    id: "revoked-cert-connected",
    title: "Revoked certificate still connected",
    severity: "critical",
    remediation:
      "Disconnect the session at once (the gateway cuts sessions on `identity.revoked`; a session listed here means that did not happen): restart the gateway node and check its logs.",
    run: (s) => {
      if (s.sessions === null) {
        return {
          status: "not_applicable",
          summary: "the MQTT gateway is not running: no live sessions to check",
          evidence: { source: "gateway sessions", available: false },
        };
      }
      const revokedDevices = new Set(s.devices.filter((d) => d.state === "revoked").map((d) => d.id as string));
      const bad = s.sessions.filter((x) => {
        const cert = s.sessionCertificates.get(x.serial);
        return revokedDevices.has(x.device) || cert?.revokedAt != null;
      });
      const evidence = {
        source: "gateway sessions",
        liveSessions: s.sessions.length,
        revokedConnected: bad.map((b) => ({ device: b.device, serial: b.serial, remote: b.remote })),
      };
      if (bad.length > 0)
        return {
          status: "fail",
          summary: `${bad.length} session(s) use a revoked certificate or device`,
          evidence,
          affected: bad.map((b) => b.device),
        };
      return { status: "pass", summary: `none of ${s.sessions.length} live session(s) uses a revoked certificate`, evidence };
    },
  },
  {
    id: "profile-overly-permissive",
    title: "Device profiles overly permissive",
    severity: "high",
    remediation:
      "Give each device only its own topics: replace wildcards with explicit filters and put {device} in every template (devices/{device}/...); shared topics let one compromised device talk to or read all the others.",
    run: (s) => {
      const inUse = new Map<string, number>();
      for (const d of s.devices)
        if (d.profile !== null && d.state !== "revoked") inUse.set(d.profile, (inUse.get(d.profile) ?? 0) + 1);
      const permissive = [...s.profiles.values()]
        .map((p) => ({ profile: p.id, devices: inUse.get(p.id) ?? 0, reasons: profilePermissiveness(p) }))
        .filter((p) => p.reasons.length > 0);
      const used = permissive.filter((p) => p.devices > 0);
      const evidence = { profilesChecked: s.profiles.size, permissive };
      if (used.length > 0)
        return {
          status: "fail",
          summary: `${used.length} profile(s) in use grant wildcards or cross-device topics`,
          evidence,
          affected: used.map((p) => p.profile),
        };
      if (permissive.length > 0)
        return {
          status: "warning",
          summary: `${permissive.length} unused profile(s) grant wildcards or cross-device topics`,
          evidence,
          affected: permissive.map((p) => p.profile),
        };
      return { status: "pass", summary: `all ${s.profiles.size} profiles confine devices to their own topics`, evidence };
    },
  },
  {
    id: "client-id-conflict",
    title: "Conflicting MQTT client ids",
    severity: "high",
    remediation:
      "Vigil binds the client id to the certificate's device id. Ids that differ only by case collide in case-insensitive systems: rename one. A takeover or a client-id refusal in the log is a cloned or misconfigured device: investigate it, and revoke it if its key was copied.",
    run: (s) => {
      const byLower = new Map<string, string[]>();
      for (const d of s.devices)
        if (d.state !== "revoked") byLower.set(d.id.toLowerCase(), [...(byLower.get(d.id.toLowerCase()) ?? []), d.id]);
      const caseCollisions = [...byLower.values()].filter((ids) => ids.length > 1);
      const takeovers = s.recentSignals.filter((x) => x.action === "identity.cloned_suspected");
      const refusals = s.recentSignals.filter(
        (x) => x.action === "gateway.connect_refused" && x.details.reason === "client_id_mismatch",
      );
      const affected = [
        ...new Set([...caseCollisions.flat(), ...takeovers.map((t) => t.target ?? ""), ...refusals.map((r) => r.target ?? "")]),
      ].filter(Boolean);
      const evidence = {
        caseCollisions,
        takeovers: takeovers.length,
        clientIdRefusals: refusals.length,
        window: "the last 10,000 audit entries",
      };
      if (caseCollisions.length > 0 || takeovers.length > 0)
        return {
          status: "fail",
          summary: `${caseCollisions.length} id collision(s), ${takeovers.length} session takeover(s)`,
          evidence,
          affected,
        };
      if (refusals.length > 0)
        return {
          status: "warning",
          summary: `${refusals.length} connection(s) refused for a client id not matching the certificate`,
          evidence,
          affected,
        };
      return { status: "pass", summary: "no conflicting client ids", evidence };
    },
  },
  {
    id: "legacy-password-auth",
    title: "Devices using legacy password authentication",
    severity: "high",
    remediation: "Move such devices to certificate enrollment (EST with a claim token or pre-registered key).",
    run: (s) => ({
      status: "not_applicable",
      summary: "Vigil has no password authentication for devices: the gateway accepts mutual TLS only",
      evidence: {
        deviceAuthentication: "mutual TLS (X.509 device certificates)",
        passwordCredentialStore: "none",
        devicesWithPasswords: 0,
        devices: s.devices.length,
      },
    }),
  },
  {
    id: "weak-default-password",
    title: "Devices with weak or default passwords",
    severity: "critical",
    remediation: "Set a unique password per device or remove password access (ETSI EN 303 645 provision 5.1-1).",
    run: (s) => ({
      status: "not_applicable",
      summary: "no device authenticates to Vigil with a password, so none can use a default one",
      evidence: {
        deviceAuthentication: "mutual TLS (X.509 device certificates)",
        devicesWithDefaultPasswords: 0,
        devices: s.devices.length,
        scope: "device-to-platform credentials; passwords on the devices' own local interfaces are not observed",
      },
    }),
  },
  {
    id: "firmware-outdated",
    title: "Outdated firmware",
    severity: "medium",
    remediation:
      "Update these devices to the newest firmware of their profile (an OTA campaign), or import that version's SBOM if it is not the newest.",
    run: (s) => {
      const newest = newestFirmware(s);
      const behind: { device: string; profile: string; firmware: string; newest: string }[] = [];
      const unknown: string[] = [];
      for (const d of liveDevices(s)) {
        if (d.profile === null) continue;
        const top = newest.get(d.profile);
        if (d.firmwareVersion === null || top === undefined) {
          unknown.push(d.id);
          continue;
        }
        try {
          if (compareVersions("generic", d.firmwareVersion, top) < 0)
            behind.push({ device: d.id, profile: d.profile, firmware: d.firmwareVersion, newest: top });
        } catch {
          unknown.push(d.id);
        }
      }
      const evidence = { newestByProfile: Object.fromEntries(newest), behind, unknownFirmware: unknown.length };
      if (behind.length > 0)
        return {
          status: "fail",
          summary: `${behind.length} device(s) run firmware older than the newest of their profile`,
          evidence,
          affected: behind.map((b) => b.device),
        };
      if (unknown.length > 0)
        return {
          status: "warning",
          summary: `${unknown.length} device(s) declared no (or an unparsable) firmware version`,
          evidence,
          affected: unknown,
        };
      return { status: "pass", summary: "every device runs the newest firmware known for its profile", evidence };
    },
  },
  {
    id: "enrollment-token-unused",
    title: "Unused enrollment tokens",
    severity: "low",
    remediation:
      "Create claim tokens just before a device is installed; tokens nobody used are credentials lying around: let them expire or issue fewer.",
    run: (s) => {
      const stale = s.settings.tokenUnusedDays * DAY;
      const unusedExpired = s.tokens.filter((t) => t.usedAt === null && t.expiresAt <= s.now);
      const unusedOld = s.tokens.filter((t) => t.usedAt === null && t.expiresAt > s.now && s.now - t.createdAt > stale);
      const evidence = {
        tokens: s.tokens.length,
        unusedExpired: unusedExpired.length,
        unusedValidOlderThanDays: unusedOld.length,
        thresholdDays: s.settings.tokenUnusedDays,
      };
      if (unusedOld.length > 0)
        return {
          status: "warning",
          summary: `${unusedOld.length} valid token(s) unused for more than ${s.settings.tokenUnusedDays} days`,
          evidence,
          affected: unusedOld.map((t) => t.id),
        };
      return {
        status: "pass",
        summary: `no valid token has lain unused for more than ${s.settings.tokenUnusedDays} days (${unusedExpired.length} expired unused)`,
        evidence,
      };
    },
  },
  {
    id: "enrollment-token-long-lived",
    title: "Long-lived enrollment tokens",
    severity: "medium",
    remediation: `Issue claim tokens with a short --ttl (hours, not weeks); a long-lived token is a standing invitation to enroll a rogue device.`,
    run: (s) => {
      const max = s.settings.tokenMaxTtlHours * 3_600_000;
      const long = s.tokens.filter((t) => t.usedAt === null && t.expiresAt > s.now && t.expiresAt - t.createdAt > max);
      const evidence = {
        validUnused: s.tokens.filter((t) => t.usedAt === null && t.expiresAt > s.now).length,
        longLived: long.length,
        maxTtlHours: s.settings.tokenMaxTtlHours,
      };
      if (long.length > 0)
        return {
          status: "fail",
          summary: `${long.length} valid token(s) live longer than ${s.settings.tokenMaxTtlHours} h`,
          evidence,
          affected: long.map((t) => t.id),
        };
      return { status: "pass", summary: `no valid token lives longer than ${s.settings.tokenMaxTtlHours} h`, evidence };
    },
  },
  {
    id: "audit-logging-disabled",
    title: "Audit logging disabled",
    severity: "critical",
    remediation: "Set audit.enabled=true (the default) and restart: without the audit log no decision can be proven afterwards.",
    run: (s) =>
      s.auditEnabled
        ? {
            status: "pass",
            summary: "every signal is recorded in the hash-chained audit log",
            evidence: { "audit.enabled": true },
          }
        : {
            status: "fail",
            summary: "the audit log is disabled (audit.enabled=false): nothing is recorded",
            evidence: { "audit.enabled": false },
          },
  },
  {
    id: "vulnerable-firmware",
    title: "Devices with known vulnerabilities",
    severity: "critical",
    remediation:
      "Update to the fixed version recorded on each finding (an OTA campaign); if a component is not exploitable in this product, record that in a VEX document (`vigil vex import`).",
    run: (s) => {
      if (s.advisoryCount === 0) {
        return {
          status: "not_assessed",
          summary: "no advisories imported yet (vigil advisories import DIR|ZIP)",
          evidence: { advisories: 0 },
        };
      }
      const bySeverity: Record<string, number> = {};
      const devicesBySev = { serious: new Set<string>(), other: new Set<string>() };
      for (const f of s.openFindings) {
        bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
        (f.severity === "critical" || f.severity === "high" ? devicesBySev.serious : devicesBySev.other).add(f.deviceId);
      }
      const withFix = s.openFindings.filter((f) => f.fixedVersion !== null).length;
      const evidence = {
        advisories: s.advisoryCount,
        openFindings: s.openFindings.length,
        bySeverity,
        withFixAvailable: withFix,
      };
      if (devicesBySev.serious.size > 0)
        return {
          status: "fail",
          summary: `${devicesBySev.serious.size} device(s) have open critical or high vulnerabilities`,
          evidence,
          affected: [...devicesBySev.serious],
        };
      if (devicesBySev.other.size > 0)
        return {
          status: "warning",
          summary: `${devicesBySev.other.size} device(s) have open medium or low vulnerabilities`,
          evidence,
          affected: [...devicesBySev.other],
        };
      return { status: "pass", summary: `no open vulnerability against ${s.advisoryCount} advisories`, evidence };
    },
  },
  {
    id: "sbom-missing",
    title: "Firmware without an SBOM",
    severity: "medium",
    remediation:
      "Import the CycloneDX SBOM of each firmware in use (`vigil sbom import FILE --profile P --firmware V`); a firmware without one cannot be checked for vulnerabilities.",
    run: (s) => {
      const bySerial = new Set(s.sboms.map((x) => x.serialNumber).filter((x): x is string => x !== null));
      const byKey = new Set(s.sboms.map((x) => `${x.profile ?? ""}\u0000${x.firmwareVersion}`));
      const anyProfile = new Set(s.sboms.filter((x) => x.profile === null).map((x) => x.firmwareVersion));
      const missing: string[] = [];
      let live = 0;
      for (const d of liveDevices(s)) {
        live += 1;
        const covered =
          (d.sbomRef !== null && bySerial.has(d.sbomRef.toLowerCase())) ||
          (d.firmwareVersion !== null &&
            (byKey.has(`${d.profile ?? ""}\u0000${d.firmwareVersion}`) || anyProfile.has(d.firmwareVersion)));
        if (!covered) missing.push(d.id);
      }
      const evidence = { sboms: s.sboms.length, liveDevices: live, devicesWithoutSbom: missing.length };
      if (missing.length > 0)
        return {
          status: "warning",
          summary: `${missing.length} of ${live} live device(s) run firmware without an SBOM`,
          evidence,
          affected: missing,
        };
      return { status: "pass", summary: `every live device's firmware has an SBOM (${live} devices)`, evidence };
    },
  },
];

export const AUDIT_CHECK_IDS: readonly string[] = AUDIT_CHECKS.map((c) => c.id);

/** Runs the checks (all, or those named) against one snapshot; a check that throws reports `error`. */
export function runAuditChecks(snapshot: FleetSnapshot, only?: readonly string[]): CheckResult[] {
  const selected = only === undefined || only.length === 0 ? AUDIT_CHECKS : AUDIT_CHECKS.filter((c) => only.includes(c.id));
  return selected.map((check) => {
    let outcome: Outcome;
    try {
      outcome = check.run(snapshot);
    } catch (error) {
      outcome = { status: "error", summary: `the check failed: ${(error as Error).message}`, evidence: {} };
    }
    const affected = outcome.affected ?? [];
    return {
      id: check.id,
      title: check.title,
      severity: check.severity,
      status: outcome.status,
      summary: outcome.summary,
      remediation: check.remediation,
      evidence: outcome.evidence,
      affected: affected.slice(0, MAX_LISTED),
      affectedCount: affected.length,
    };
  });
}
