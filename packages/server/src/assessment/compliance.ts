import type { CheckResult, CheckStatus } from "./audit-checks.js";
import type { FleetSnapshot } from "./fleet-snapshot.js";

/**
 * Compliance mapping: controls of NIST CSF 2.0, NIST IR 8259A and ETSI EN 303 645, each
 * computed from live evidence — the audit checks' results and facts read from the fleet —
 * and linked to that evidence. A control whose evidence source Vigil does not have yet is
 * `not_assessed` with the reason: never a pass by default.
 */

export type ControlStatus = "pass" | "partial" | "fail" | "not_assessed" | "not_applicable";

export interface EvidenceItem {
  /** What was measured, in words: "devices with default credentials". */
  readonly label: string;
  readonly value: string | number | boolean;
  /** The audit check this came from, when it came from one. */
  readonly check?: string;
  /** That check's status. */
  readonly checkStatus?: CheckStatus;
}

export interface ControlResult {
  readonly framework: FrameworkId;
  /** The framework's own reference: `PR.AA-01`, `5.1`, `Device Identification`. */
  readonly ref: string;
  readonly title: string;
  /** What Vigil looks at to decide, in one sentence. */
  readonly criterion: string;
  readonly status: ControlStatus;
  readonly evidence: readonly EvidenceItem[];
  /** Why the control is not assessed (or not applicable), when it is. */
  readonly reason: string | null;
}

export type FrameworkId = "nist-csf-2.0" | "nist-ir-8259a" | "etsi-en-303-645";

export const FRAMEWORKS: Readonly<Record<FrameworkId, { readonly title: string; readonly groups: readonly string[] }>> = {
  "nist-csf-2.0": {
    title: "NIST Cybersecurity Framework 2.0",
    groups: ["Govern (GV)", "Identify (ID)", "Protect (PR)", "Detect (DE)", "Respond (RS)", "Recover (RC)"],
  },
  "nist-ir-8259a": {
    title: "NIST IR 8259A — IoT Device Cybersecurity Capability Core Baseline",
    groups: [
      "Device Identification",
      "Device Configuration",
      "Data Protection",
      "Logical Access to Interfaces",
      "Software Update",
      "Cybersecurity State Awareness",
    ],
  },
  "etsi-en-303-645": {
    title: "ETSI EN 303 645 V2.1.1 — Cyber Security for Consumer IoT: Baseline Requirements",
    groups: [
      "5.1 No universal default passwords",
      "5.2 Implement a means to manage reports of vulnerabilities",
      "5.3 Keep software updated",
      "5.4 Securely store sensitive security parameters",
      "5.5 Communicate securely",
      "5.6 Minimize exposed attack surfaces",
      "5.7 Ensure software integrity",
      "5.8 Ensure that personal data is secure",
      "5.9 Make systems resilient to outages",
      "5.10 Examine system telemetry data",
      "5.11 Make it easy for users to delete user data",
      "5.12 Make installation and maintenance of devices easy",
      "5.13 Validate input data",
    ],
  },
};

interface ControlDefinition {
  readonly framework: FrameworkId;
  /** Which of the framework's groups it belongs to (index into FRAMEWORKS[f].groups). */
  readonly group: number;
  readonly ref: string;
  readonly title: string;
  readonly criterion: string;
  /** The audit checks whose results decide the status. */
  readonly checks?: readonly string[];
  /** Facts read from the snapshot, shown as evidence; `fail`/`pass` may also decide the status. */
  readonly facts?: (
    s: FleetSnapshot,
    checks: readonly CheckResult[],
  ) => { items: EvidenceItem[]; verdict?: "pass" | "fail" | "partial" };
  /** The evidence source does not exist yet: the control is not assessed, for this reason. */
  readonly notAssessed?: string;
}

const count = (label: string, value: number): EvidenceItem => ({ label, value });

const fleetFacts = (s: FleetSnapshot) => {
  const live = s.devices.filter((d) => d.state === "active" || d.state === "quarantined");
  return {
    live,
    noProfile: live.filter((d) => d.profile === null).length,
    pending: s.devices.filter((d) => d.state === "pending").length,
  };
};

const CONTROLS: readonly ControlDefinition[] = [
  // ---- NIST CSF 2.0 ----
  {
    framework: "nist-csf-2.0",
    group: 0,
    ref: "GV.SC-07",
    title: "Supplier risks are identified, recorded and monitored",
    criterion: "every firmware in use has an SBOM, and its components are checked against imported advisories",
    checks: ["sbom-missing", "vulnerable-firmware"],
  },
  {
    framework: "nist-csf-2.0",
    group: 0,
    ref: "GV.OV-03",
    title: "Cybersecurity risk management performance is evaluated",
    criterion: "the audit checks run (scheduled and on demand) and their results are kept",
    facts: (s, checks) => ({
      items: [
        count("audit checks evaluated for this report", checks.length),
        count("audit checks that could not run", checks.filter((c) => c.status === "error").length),
        { label: "audit log records check runs", value: s.auditEnabled },
      ],
      verdict: s.auditEnabled && checks.every((c) => c.status !== "error") ? "pass" : "partial",
    }),
  },
  {
    framework: "nist-csf-2.0",
    group: 1,
    ref: "ID.AM-01",
    title: "Inventories of hardware managed by the organization are maintained",
    criterion: "every device is registered with an identity and a declared profile",
    facts: (s) => {
      const f = fleetFacts(s);
      return {
        items: [
          count("devices registered", s.devices.length),
          count("live devices without a profile", f.noProfile),
          count("devices pending enrollment", f.pending),
        ],
        verdict: f.noProfile === 0 ? "pass" : "partial",
      };
    },
  },
  {
    framework: "nist-csf-2.0",
    group: 1,
    ref: "ID.AM-02",
    title: "Inventories of software, services and systems are maintained",
    criterion: "every live device's firmware version is known and has an SBOM",
    checks: ["sbom-missing"],
  },
  {
    framework: "nist-csf-2.0",
    group: 1,
    ref: "ID.RA-01",
    title: "Vulnerabilities in assets are identified, validated and recorded",
    criterion: "SBOM components are matched against advisories; open findings are recorded per device",
    checks: ["vulnerable-firmware"],
  },
  {
    framework: "nist-csf-2.0",
    group: 2,
    ref: "PR.AA-01",
    title: "Identities and credentials for hardware are managed",
    criterion: "each device has its own, current, strong key and certificate",
    checks: ["device-cert-shared-key", "device-cert-weak-key", "device-cert-expiring", "device-cert-too-old", "ca-cert-expiring"],
  },
  {
    framework: "nist-csf-2.0",
    group: 2,
    ref: "PR.AA-03",
    title: "Users, services and hardware are authenticated",
    criterion: "devices authenticate with mutual TLS only; no revoked identity holds a session; no client-id conflicts",
    checks: ["legacy-password-auth", "revoked-cert-connected", "client-id-conflict"],
  },
  {
    framework: "nist-csf-2.0",
    group: 2,
    ref: "PR.AA-05",
    title: "Access permissions are defined, managed and enforced (least privilege)",
    criterion: "profiles confine each device to its own topics; enrollment tokens are short-lived",
    checks: ["profile-overly-permissive", "enrollment-token-long-lived", "enrollment-token-unused"],
  },
  {
    framework: "nist-csf-2.0",
    group: 2,
    ref: "PR.DS-02",
    title: "The confidentiality and integrity of data in transit are protected",
    criterion: "devices reach Vigil only through the MQTT gateway over mutual TLS with accepted keys",
    checks: ["device-cert-weak-key"],
    facts: (s) => ({
      items: [{ label: "MQTT gateway (mutual TLS, TLS 1.2+) enabled", value: s.settings.mqttEnabled }],
      verdict: s.settings.mqttEnabled ? "pass" : "partial",
    }),
  },
  {
    framework: "nist-csf-2.0",
    group: 2,
    ref: "PR.PS-02",
    title: "Software is maintained, replaced and removed commensurate with risk",
    criterion: "devices run the newest known firmware and have no open critical or high vulnerability",
    checks: ["firmware-outdated", "vulnerable-firmware"],
  },
  {
    framework: "nist-csf-2.0",
    group: 2,
    ref: "PR.PS-04",
    title: "Log records are generated and made available for continuous monitoring",
    criterion: "the hash-chained audit log records every signal",
    checks: ["audit-logging-disabled"],
  },
  {
    framework: "nist-csf-2.0",
    group: 3,
    ref: "DE.CM-09",
    title: "Computing hardware, software and their data are monitored for adverse events",
    criterion: "behaviour of each device is scored by the detection module",
    notAssessed:
      "detection runs in the message path (rules and per-device anomaly models, docs/detection.md), but its findings are not yet an evidence source of this assessment",
  },
  {
    framework: "nist-csf-2.0",
    group: 3,
    ref: "DE.AE-02",
    title: "Potentially adverse events are analyzed",
    criterion: "findings raised by detection are analysed into incidents",
    notAssessed:
      "detection findings and the incidents response opens from them are not yet an evidence source of this assessment",
  },
  {
    framework: "nist-csf-2.0",
    group: 4,
    ref: "RS.MI-01",
    title: "Incidents are contained",
    criterion: "a revoked identity loses its live sessions at once",
    checks: ["revoked-cert-connected"],
  },
  {
    framework: "nist-csf-2.0",
    group: 4,
    ref: "RS.MA-01",
    title: "The incident response plan is executed",
    criterion: "playbooks open and update incidents with evidence",
    notAssessed:
      "playbooks open and update incidents (docs/response.md), but incident records are not yet an evidence source of this assessment",
  },
  {
    framework: "nist-csf-2.0",
    group: 5,
    ref: "RC.RP-01",
    title: "The recovery portion of the incident response plan is executed",
    criterion: "devices are re-provisioned or rolled back to the last good firmware",
    notAssessed:
      "re-provisioning and firmware rollback run as playbook actions, but their records are not yet an evidence source of this assessment",
  },
  // ---- NIST IR 8259A ----
  {
    framework: "nist-ir-8259a",
    group: 0,
    ref: "8259A-DI",
    title: "Device Identification: the device can be uniquely identified logically and physically",
    criterion: "each device has a unique id and a key of its own, bound by a certificate and an attestation",
    checks: ["device-cert-shared-key", "client-id-conflict"],
    facts: (s) => {
      const live = fleetFacts(s).live;
      const attested = live.filter((d) => d.attestationMethod !== null).length;
      return {
        items: [count("live devices", live.length), count("live devices with a recorded attestation", attested)],
        verdict: attested === live.length ? "pass" : "partial",
      };
    },
  },
  {
    framework: "nist-ir-8259a",
    group: 1,
    ref: "8259A-DC",
    title: "Device Configuration: the configuration can be changed by authorized entities only",
    criterion: "every device has a declared profile that confines it; configuration topics are per device",
    checks: ["profile-overly-permissive"],
    facts: (s) => {
      const f = fleetFacts(s);
      return { items: [count("live devices without a profile", f.noProfile)], verdict: f.noProfile === 0 ? "pass" : "partial" };
    },
  },
  {
    framework: "nist-ir-8259a",
    group: 2,
    ref: "8259A-DP",
    title: "Data Protection: the device can protect the data it stores and transmits",
    criterion: "transmission over mutual TLS with accepted keys (stored data on the device is not observable)",
    checks: ["device-cert-weak-key"],
    facts: (s) => ({
      items: [{ label: "MQTT gateway (mutual TLS) enabled", value: s.settings.mqttEnabled }],
      verdict: s.settings.mqttEnabled ? "pass" : "partial",
    }),
  },
  {
    framework: "nist-ir-8259a",
    group: 3,
    ref: "8259A-LA",
    title: "Logical Access to Interfaces: local and network interfaces are restricted",
    criterion: "no password access, revocation cuts sessions, least-privilege topics",
    checks: ["legacy-password-auth", "weak-default-password", "revoked-cert-connected", "profile-overly-permissive"],
  },
  {
    framework: "nist-ir-8259a",
    group: 4,
    ref: "8259A-SU-1",
    title: "Software Update: devices run current software",
    criterion: "firmware in use is the newest known for the profile and free of known critical/high vulnerabilities",
    checks: ["firmware-outdated", "vulnerable-firmware"],
  },
  {
    framework: "nist-ir-8259a",
    group: 4,
    ref: "8259A-SU-2",
    title: "Software Update: updates are authenticated and applied through a secure mechanism",
    criterion: "signed OTA campaigns with anti-rollback reach every device",
    notAssessed: "OTA campaign records are not an evidence source of the assessment yet",
  },
  {
    framework: "nist-ir-8259a",
    group: 5,
    ref: "8259A-CSA",
    title: "Cybersecurity State Awareness: the device's cybersecurity state can be reported",
    criterion: "every signal is audited and the posture is re-checked on a schedule",
    checks: ["audit-logging-disabled"],
  },
  // ---- ETSI EN 303 645 ----
  {
    framework: "etsi-en-303-645",
    group: 0,
    ref: "5.1",
    title: "No universal default passwords",
    criterion: "number of devices with default credentials = 0, and no key shared between devices",
    checks: ["weak-default-password", "legacy-password-auth", "device-cert-shared-key"],
    facts: (_s, checks) => {
      const evidence = checks.find((c) => c.id === "weak-default-password")?.evidence;
      const n = evidence?.devicesWithDefaultPasswords;
      return { items: typeof n === "number" ? [count("devices with default credentials", n)] : [] };
    },
  },
  {
    framework: "etsi-en-303-645",
    group: 1,
    ref: "5.2",
    title: "Implement a means to manage reports of vulnerabilities",
    criterion: "advisories are imported and matched; findings are tracked per device until resolved",
    checks: ["vulnerable-firmware"],
    facts: (s) => ({
      items: [
        count("advisories held", s.advisoryCount),
        {
          label: "last advisory import",
          value: s.lastAdvisoryImportAt === null ? "never" : new Date(s.lastAdvisoryImportAt).toISOString(),
        },
      ],
    }),
  },
  {
    framework: "etsi-en-303-645",
    group: 2,
    ref: "5.3",
    title: "Keep software updated",
    criterion: "devices run the newest known firmware; fixes are known for open vulnerabilities",
    checks: ["firmware-outdated", "vulnerable-firmware", "sbom-missing"],
  },
  {
    framework: "etsi-en-303-645",
    group: 3,
    ref: "5.4",
    title: "Securely store sensitive security parameters",
    criterion: "device keys are generated on the device (CSR) and unique; CA keys are sealed at rest (AES-256-GCM)",
    checks: ["device-cert-shared-key", "device-cert-weak-key"],
  },
  {
    framework: "etsi-en-303-645",
    group: 4,
    ref: "5.5",
    title: "Communicate securely",
    criterion: "mutual TLS with current certificates and accepted keys; no revoked identity connected",
    checks: ["device-cert-weak-key", "device-cert-expiring", "revoked-cert-connected", "ca-cert-expiring"],
  },
  {
    framework: "etsi-en-303-645",
    group: 5,
    ref: "5.6",
    title: "Minimize exposed attack surfaces",
    criterion: "least-privilege topics per device; no standing enrollment credentials",
    checks: ["profile-overly-permissive", "enrollment-token-long-lived", "enrollment-token-unused"],
  },
  {
    framework: "etsi-en-303-645",
    group: 6,
    ref: "5.7",
    title: "Ensure software integrity",
    criterion: "secure boot and signed firmware verified on the device",
    notAssessed: "firmware integrity attestation and OTA signature records are not an evidence source yet",
  },
  {
    framework: "etsi-en-303-645",
    group: 7,
    ref: "5.8",
    title: "Ensure that personal data is secure",
    criterion: "profiles that carry personal data communicate only over mutual TLS, confined to the device's own topics",
    checks: ["profile-overly-permissive", "device-cert-weak-key"],
    facts: (s) => ({
      items: [
        count(
          "profiles declaring sensitive (personal) payloads",
          [...s.profiles.values()].filter((p) => p.sensitivePayload).length,
        ),
        { label: "MQTT gateway (mutual TLS) enabled", value: s.settings.mqttEnabled },
      ],
    }),
  },
  {
    framework: "etsi-en-303-645",
    group: 8,
    ref: "5.9",
    title: "Make systems resilient to outages",
    criterion: "devices keep working locally through network and power outages",
    notAssessed: "device behaviour during outages is not observed by Vigil",
  },
  {
    framework: "etsi-en-303-645",
    group: 9,
    ref: "5.10",
    title: "Examine system telemetry data",
    criterion: "telemetry is examined for security anomalies",
    notAssessed:
      "detection examines telemetry in the message path (payload drift, anomaly models), but its findings are not yet an evidence source of this assessment",
  },
  {
    framework: "etsi-en-303-645",
    group: 10,
    ref: "5.11",
    title: "Make it easy for users to delete user data",
    criterion: "user data on devices and services can be erased",
    notAssessed: "Vigil holds no record of user-data deletion on devices",
  },
  {
    framework: "etsi-en-303-645",
    group: 11,
    ref: "5.12",
    title: "Make installation and maintenance of devices easy",
    criterion: "devices enroll without manual key handling; certificates renew automatically",
    checks: ["device-cert-expiring"],
    facts: (s) => {
      const f = fleetFacts(s);
      const zeroTouch = f.live.filter(
        (d) => d.attestationMethod === "manufacturer-certificate" || d.attestationMethod === "pre-registered-key",
      ).length;
      return {
        items: [
          count("live devices", f.live.length),
          count("enrolled zero-touch (factory certificate or pre-registered key)", zeroTouch),
          count("devices pending enrollment", f.pending),
        ],
      };
    },
  },
  {
    framework: "etsi-en-303-645",
    group: 12,
    ref: "5.13",
    title: "Validate input data",
    criterion: "the gateway validates every topic, size, QoS and rate against the device's profile before it is accepted",
    facts: (s) => ({
      items: [
        { label: "MQTT gateway enforcing profiles inline", value: s.settings.mqttEnabled },
        count("profiles with a payload-size and rate limit", s.profiles.size),
      ],
      verdict: s.settings.mqttEnabled ? "pass" : "fail",
    }),
  },
];

const RANK: Readonly<Record<ControlStatus, number>> = { fail: 4, partial: 3, pass: 2, not_applicable: 1, not_assessed: 0 };

function fromCheck(status: CheckStatus): ControlStatus | undefined {
  switch (status) {
    case "pass":
      return "pass";
    case "fail":
      return "fail";
    case "warning":
      return "partial";
    case "not_applicable":
      return "not_applicable";
    default:
      return undefined; // not_assessed, error: no evidence either way
  }
}

/** Computes every control from the checks' results and the snapshot. */
export function evaluateControls(snapshot: FleetSnapshot, checks: readonly CheckResult[]): ControlResult[] {
  const byId = new Map(checks.map((c) => [c.id, c]));
  return CONTROLS.map((def) => {
    const base = { framework: def.framework, ref: def.ref, title: def.title, criterion: def.criterion };
    if (def.notAssessed !== undefined) return { ...base, status: "not_assessed", evidence: [], reason: def.notAssessed };
    const evidence: EvidenceItem[] = [];
    const statuses: ControlStatus[] = [];
    const unassessed: string[] = [];
    for (const id of def.checks ?? []) {
      const check = byId.get(id);
      if (check === undefined) {
        unassessed.push(`${id} was not run`);
        continue;
      }
      evidence.push({ label: check.summary, value: check.affectedCount, check: id, checkStatus: check.status });
      const s = fromCheck(check.status);
      if (s === undefined) unassessed.push(`${id}: ${check.summary}`);
      else statuses.push(s);
    }
    if (def.facts !== undefined) {
      const facts = def.facts(snapshot, checks);
      evidence.push(...facts.items);
      if (facts.verdict !== undefined) statuses.push(facts.verdict);
    }
    const assessed = statuses.filter((s) => s !== "not_applicable");
    if (assessed.length === 0) {
      if (statuses.length > 0 && unassessed.length === 0)
        return { ...base, status: "not_applicable", evidence, reason: "every check it rests on is not applicable here" };
      return { ...base, status: "not_assessed", evidence, reason: unassessed.join("; ") || "no evidence" };
    }
    let status = assessed.reduce((worst, s) => (RANK[s] > RANK[worst] ? s : worst), "pass" as ControlStatus);
    // Part of the evidence missing: at best partial, never a full pass.
    if (status === "pass" && unassessed.length > 0) status = "partial";
    return { ...base, status, evidence, reason: unassessed.length > 0 ? unassessed.join("; ") : null };
  });
}

/** Control definitions grouped per framework (for docs and reports). */
export function controlCatalogue(): readonly {
  framework: FrameworkId;
  group: string;
  ref: string;
  title: string;
  criterion: string;
  checks: readonly string[];
  notAssessed: string | null;
}[] {
  return CONTROLS.map((c) => ({
    framework: c.framework,
    group: FRAMEWORKS[c.framework].groups[c.group] ?? "",
    ref: c.ref,
    title: c.title,
    criterion: c.criterion,
    checks: c.checks ?? [],
    notAssessed: c.notAssessed ?? null,
  }));
}

export function groupOf(ref: string, framework: FrameworkId): string {
  return FRAMEWORKS[framework].groups[CONTROLS.find((c) => c.ref === ref && c.framework === framework)?.group ?? -1] ?? "";
}
