import { iso } from "../core/index.js";
import type { VerticalId } from "../trust/index.js";
import type { CheckResult, CheckStatus } from "./audit-checks.js";
import { FRAMEWORKS, evaluateControls, groupOf, type ControlResult, type ControlStatus, type FrameworkId } from "./compliance.js";
import { SEVERITY_ORDER, type Severity } from "./cvss.js";
import type { FleetSnapshot } from "./fleet-snapshot.js";
import { buildScorecard, type Scorecard } from "./scorecard.js";

/**
 * The compliance report: one JSON document from which the HTML and PDF are rendered, so the
 * three formats always say the same thing. Its sections (titles shared by the renderers):
 */
export const REPORT_SECTIONS = [
  "Summary",
  "CIA scorecard",
  "Audit checks",
  "Vulnerabilities",
  "NIST CSF 2.0",
  "NIST IR 8259A",
  "ETSI EN 303 645",
  "SBOM inventory",
  "About this report",
] as const;

export const REPORT_FORMATS = ["json", "html", "pdf"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

const FRAMEWORK_SECTION: Readonly<Record<FrameworkId, (typeof REPORT_SECTIONS)[number]>> = {
  "nist-csf-2.0": "NIST CSF 2.0",
  "nist-ir-8259a": "NIST IR 8259A",
  "etsi-en-303-645": "ETSI EN 303 645",
};

export interface ReportFinding {
  readonly device: string;
  readonly advisory: string;
  readonly component: string;
  readonly version: string;
  readonly severity: Severity;
  readonly cvss: number | null;
  readonly fixedVersion: string | null;
  readonly firstSeenAt: string;
}

export interface FrameworkSection {
  readonly id: FrameworkId;
  readonly section: string;
  readonly title: string;
  readonly summary: Readonly<Record<ControlStatus, number>>;
  readonly controls: readonly (ControlResult & { readonly group: string })[];
}

export interface ComplianceReport {
  readonly kind: "vigil.compliance-report";
  readonly schemaVersion: 1;
  readonly generatedAt: string;
  readonly generatedBy: string;
  readonly platformVersion: string;
  readonly sections: readonly string[];
  readonly fleet: {
    readonly devices: number;
    readonly byState: Readonly<Record<string, number>>;
    readonly byProfile: Readonly<Record<string, number>>;
    readonly firmware: readonly { readonly profile: string; readonly version: string; readonly devices: number }[];
  };
  readonly scorecard: Scorecard;
  readonly auditChecks: {
    readonly summary: Readonly<Record<CheckStatus, number>>;
    readonly results: readonly CheckResult[];
  };
  readonly vulnerabilities: {
    readonly advisories: number;
    readonly lastAdvisoryImportAt: string | null;
    readonly openFindings: number;
    readonly devicesAffected: number;
    readonly bySeverity: Readonly<Record<string, number>>;
    readonly withFixAvailable: number;
    /** The open findings, worst first (at most 500 listed). */
    readonly findings: readonly ReportFinding[];
  };
  readonly frameworks: readonly FrameworkSection[];
  readonly sboms: readonly {
    readonly profile: string | null;
    readonly firmwareVersion: string;
    readonly serialNumber: string | null;
    readonly specVersion: string;
    readonly components: number;
    readonly importedAt: string;
  }[];
}

const MAX_FINDINGS = 500;

export function buildComplianceReport(input: {
  snapshot: FleetSnapshot;
  checks: readonly CheckResult[];
  vertical: VerticalId;
  generatedBy: string;
  platformVersion: string;
}): ComplianceReport {
  const { snapshot: s, checks } = input;
  const controls = evaluateControls(s, checks);
  const tally = <K extends string>(keys: readonly K[], values: readonly K[]) =>
    Object.fromEntries(keys.map((k) => [k, values.filter((v) => v === k).length])) as Record<K, number>;

  const byState: Record<string, number> = {};
  const byProfile: Record<string, number> = {};
  const firmware = new Map<string, { profile: string; version: string; devices: number }>();
  for (const d of s.devices) {
    byState[d.state] = (byState[d.state] ?? 0) + 1;
    byProfile[d.profile ?? "(none)"] = (byProfile[d.profile ?? "(none)"] ?? 0) + 1;
    if (d.state === "revoked") continue;
    const key = `${d.profile ?? "(none)"}\u0000${d.firmwareVersion ?? "(unknown)"}`;
    const row = firmware.get(key) ?? { profile: d.profile ?? "(none)", version: d.firmwareVersion ?? "(unknown)", devices: 0 };
    firmware.set(key, { ...row, devices: row.devices + 1 });
  }

  const rank = (sev: Severity) => SEVERITY_ORDER.indexOf(sev);
  const findings = [...s.openFindings]
    .sort((a, b) => rank(a.severity) - rank(b.severity) || (b.cvss ?? 0) - (a.cvss ?? 0) || a.deviceId.localeCompare(b.deviceId))
    .slice(0, MAX_FINDINGS)
    .map((f) => ({
      device: f.deviceId,
      advisory: f.advisoryId,
      component: f.component,
      version: f.componentVersion,
      severity: f.severity,
      cvss: f.cvss,
      fixedVersion: f.fixedVersion,
      firstSeenAt: iso(f.firstSeenAt),
    }));
  const bySeverity: Record<string, number> = {};
  for (const f of s.openFindings) bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;

  const frameworks: FrameworkSection[] = (Object.keys(FRAMEWORKS) as FrameworkId[]).map((id) => {
    const list = controls.filter((c) => c.framework === id).map((c) => ({ ...c, group: groupOf(c.ref, id) }));
    return {
      id,
      section: FRAMEWORK_SECTION[id],
      title: FRAMEWORKS[id].title,
      summary: tally<ControlStatus>(
        ["pass", "partial", "fail", "not_assessed", "not_applicable"],
        list.map((c) => c.status),
      ),
      controls: list,
    };
  });

  return {
    kind: "vigil.compliance-report",
    schemaVersion: 1,
    generatedAt: iso(s.now),
    generatedBy: input.generatedBy,
    platformVersion: input.platformVersion,
    sections: REPORT_SECTIONS,
    fleet: { devices: s.devices.length, byState, byProfile, firmware: [...firmware.values()] },
    scorecard: buildScorecard(input.vertical, checks, controls),
    auditChecks: {
      summary: tally<CheckStatus>(
        ["pass", "warning", "fail", "not_applicable", "not_assessed", "error"],
        checks.map((c) => c.status),
      ),
      results: checks,
    },
    vulnerabilities: {
      advisories: s.advisoryCount,
      lastAdvisoryImportAt: s.lastAdvisoryImportAt === null ? null : iso(s.lastAdvisoryImportAt),
      openFindings: s.openFindings.length,
      devicesAffected: new Set(s.openFindings.map((f) => f.deviceId)).size,
      bySeverity,
      withFixAvailable: s.openFindings.filter((f) => f.fixedVersion !== null).length,
      findings,
    },
    frameworks,
    sboms: s.sboms.map((x) => ({
      profile: x.profile,
      firmwareVersion: x.firmwareVersion,
      serialNumber: x.serialNumber,
      specVersion: x.specVersion,
      components: x.componentCount,
      importedAt: iso(x.importedAt),
    })),
  };
}

/** Words for statuses, shared by the HTML and PDF renderers. */
export const STATUS_LABEL: Readonly<Record<string, string>> = {
  pass: "PASS",
  partial: "PARTIAL",
  warning: "WARNING",
  fail: "FAIL",
  not_assessed: "NOT ASSESSED",
  not_applicable: "N/A",
  error: "ERROR",
};

export const ABOUT_TEXT = [
  "Every status in this report is computed from the live state of the fleet at the time above: device records, certificates, profiles, enrollment tokens, the gateway's sessions, imported SBOMs and advisories, and the audit log. No status comes from a questionnaire.",
  "A control whose evidence source Vigil does not have yet is NOT ASSESSED, with the reason; it is never counted as a pass. A control resting partly on missing evidence is at best PARTIAL.",
  "The SHA-256 of this file is recorded in Vigil's hash-chained audit log as a report.generated entry, with the time, format and operator: compare it with `sha256sum` to prove this is the report Vigil produced.",
];
