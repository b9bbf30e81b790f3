import { CIA_OUTCOMES, CIA_PILLAR_OF, VERTICALS, type CiaOutcome, type CiaPillar, type VerticalId } from "../trust/index.js";
import type { CheckResult, CheckSeverity } from "./audit-checks.js";
import type { ControlResult } from "./compliance.js";

/**
 * The CIA scorecard: the six outcomes (data privacy, access, reliability, compliance, uptime,
 * resilience), each scored 0..100 from the audit checks that bear on it, then weighted by the
 * vertical profile (trust/verticals.ts: the same weights the trust model uses). An outcome
 * with no assessed check has no score and its weight is spread over the others, so that a
 * missing evidence source never reads as 100.
 */

/** Which checks bear on which outcome. A check may count for several. */
export const OUTCOME_CHECKS: Readonly<Record<CiaOutcome, readonly string[]>> = {
  dataPrivacy: ["profile-overly-permissive", "device-cert-weak-key", "vulnerable-firmware"],
  access: [
    "device-cert-shared-key",
    "revoked-cert-connected",
    "client-id-conflict",
    "legacy-password-auth",
    "weak-default-password",
    "enrollment-token-long-lived",
    "enrollment-token-unused",
  ],
  reliability: ["firmware-outdated", "vulnerable-firmware", "sbom-missing"],
  compliance: ["audit-logging-disabled"],
  uptime: ["device-cert-expiring", "ca-cert-expiring"],
  resilience: ["device-cert-too-old", "revoked-cert-connected", "firmware-outdated"],
};

/** Points a failing check takes off its outcomes (a warning takes half). */
const PENALTY: Readonly<Record<CheckSeverity, number>> = { critical: 50, high: 30, medium: 15, low: 5 };

export interface OutcomeScore {
  readonly outcome: CiaOutcome;
  readonly pillar: CiaPillar;
  /** The vertical's weight for this outcome. */
  readonly weight: number;
  /** 0..100, or null when no check bearing on it could be assessed. */
  readonly score: number | null;
  /** The checks it was computed from, with the points each took off. */
  readonly basis: readonly { readonly check: string; readonly status: string; readonly penalty: number }[];
}

export interface Scorecard {
  readonly vertical: VerticalId;
  readonly verticalTitle: string;
  readonly rationale: string;
  readonly outcomes: readonly OutcomeScore[];
  /** Weighted over the assessed outcomes; null when none is. */
  readonly overall: number | null;
  readonly pillars: Readonly<Record<CiaPillar, number | null>>;
  /** Share of assessed compliance controls that pass (partial counts half), 0..100. */
  readonly controlsPassing: number | null;
}

export function buildScorecard(
  vertical: VerticalId,
  checks: readonly CheckResult[],
  controls: readonly ControlResult[],
): Scorecard {
  const v = VERTICALS[vertical];
  const byId = new Map(checks.map((c) => [c.id, c]));
  const assessedControls = controls.filter((c) => c.status === "pass" || c.status === "partial" || c.status === "fail");
  const controlsPassing =
    assessedControls.length === 0
      ? null
      : Math.round(
          (assessedControls.reduce((n, c) => n + (c.status === "pass" ? 1 : c.status === "partial" ? 0.5 : 0), 0) /
            assessedControls.length) *
            100,
        );
  const outcomes: OutcomeScore[] = CIA_OUTCOMES.map((outcome) => {
    const basis: { check: string; status: string; penalty: number }[] = [];
    let assessed = 0;
    let score = 100;
    for (const id of OUTCOME_CHECKS[outcome]) {
      const c = byId.get(id);
      if (c === undefined || c.status === "not_assessed" || c.status === "error" || c.status === "not_applicable") continue;
      assessed += 1;
      const penalty = c.status === "fail" ? PENALTY[c.severity] : c.status === "warning" ? PENALTY[c.severity] / 2 : 0;
      score -= penalty;
      basis.push({ check: id, status: c.status, penalty });
    }
    // Compliance also reflects the controls: its score is the lower of the two.
    let value: number | null = assessed === 0 ? null : Math.max(0, score);
    if (outcome === "compliance" && controlsPassing !== null)
      value = value === null ? controlsPassing : Math.min(value, controlsPassing);
    return { outcome, pillar: CIA_PILLAR_OF[outcome], weight: v.cia[outcome], score: value, basis };
  });
  const weighted = (list: readonly OutcomeScore[]): number | null => {
    const scored = list.filter((o) => o.score !== null);
    const total = scored.reduce((n, o) => n + o.weight, 0);
    if (scored.length === 0 || total === 0) return null;
    return Math.round(scored.reduce((n, o) => n + (o.score as number) * o.weight, 0) / total);
  };
  const pillar = (p: CiaPillar) => weighted(outcomes.filter((o) => o.pillar === p));
  return {
    vertical,
    verticalTitle: v.title,
    rationale: v.rationale,
    outcomes,
    overall: weighted(outcomes),
    pillars: { confidentiality: pillar("confidentiality"), integrity: pillar("integrity"), availability: pillar("availability") },
    controlsPassing,
  };
}
