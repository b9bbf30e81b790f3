import type { Vertical as ProfileVertical } from "../policy/index.js";

/**
 * Vertical profiles: how much each of the six CIA outcomes matters in an industry, and how
 * hard enforcement bites there. The trust model uses them to re-weight its factors (a
 * confidentiality-first vertical cares more about key strength and exfiltration findings;
 * an availability-first one more about reliability) and the trust service uses the
 * enforcement part to decide what a bad score does (quarantine or throttle). The assessment
 * module uses the same weights for its CIA scorecard, so both read one table.
 *
 * Stable contract: ids, outcome names and field names are part of the public API (HTTP,
 * reports). Add a vertical or a field; never rename or remove one.
 */

/** The six CIA outcomes, grouped by pillar (confidentiality, integrity, availability). */
export const CIA_OUTCOMES = ["dataPrivacy", "access", "reliability", "compliance", "uptime", "resilience"] as const;
export type CiaOutcome = (typeof CIA_OUTCOMES)[number];

export const CIA_PILLARS = ["confidentiality", "integrity", "availability"] as const;
export type CiaPillar = (typeof CIA_PILLARS)[number];

/** Which pillar each outcome belongs to. */
export const CIA_PILLAR_OF: Readonly<Record<CiaOutcome, CiaPillar>> = Object.freeze({
  dataPrivacy: "confidentiality",
  access: "confidentiality",
  reliability: "integrity",
  compliance: "integrity",
  uptime: "availability",
  resilience: "availability",
});

/** Weights of the six outcomes: each in [0, 1], summing to 1. */
export type CiaWeights = Readonly<Record<CiaOutcome, number>>;

/** What a device is allowed to suffer in this vertical when trust collapses. */
export interface VerticalEnforcement {
  /**
   * What an exfiltration-like finding (data leaving where it must not) does at once:
   * `quarantine` drops the device to the quarantine tier whatever its score;
   * `throttle` caps it at `restricted` (it keeps working, slowly, narrowly).
   */
  readonly onExfiltration: "quarantine" | "throttle";
  /**
   * Whether a score below the quarantine threshold really quarantines. When false
   * (availability-first, safety-critical verticals), the device is held at `restricted`
   * and an operator approves the quarantine (`vigil trust quarantine ID`).
   */
  readonly autoQuarantine: boolean;
  /** Disruptive actions (disconnect, revoke, quarantine) need an operator's approval. */
  readonly disruptiveActionsNeedApproval: boolean;
}

export interface Vertical {
  /** Stable id (`VerticalId`). */
  readonly id: VerticalId;
  readonly title: string;
  /** One line: why the weights look like this. */
  readonly rationale: string;
  readonly cia: CiaWeights;
  readonly enforcement: VerticalEnforcement;
}

export const VERTICAL_IDS = ["healthcare", "automotive", "smart-city", "industrial", "payments", "default"] as const;
export type VerticalId = (typeof VERTICAL_IDS)[number];

function vertical(v: Vertical): Vertical {
  return Object.freeze({ ...v, cia: Object.freeze({ ...v.cia }), enforcement: Object.freeze({ ...v.enforcement }) });
}

/** The vertical profiles, keyed by id. Weights sum to 1 (checked by a test). */
export const VERTICALS: Readonly<Record<VerticalId, Vertical>> = Object.freeze({
  healthcare: vertical({
    id: "healthcare",
    title: "Healthcare",
    rationale:
      "Patient data is the asset (HIPAA, GDPR art. 9): confidentiality first; a pump or monitor must keep running (IEC 80001-1), so availability still weighs.",
    cia: { dataPrivacy: 0.3, access: 0.2, reliability: 0.15, compliance: 0.15, uptime: 0.1, resilience: 0.1 },
    enforcement: { onExfiltration: "quarantine", autoQuarantine: true, disruptiveActionsNeedApproval: false },
  }),
  automotive: vertical({
    id: "automotive",
    title: "Automotive",
    rationale:
      "A vehicle unit cut off in motion is a safety hazard (ISO 26262, UNECE R155): availability and integrity first; degrade, never cut off without approval.",
    cia: { dataPrivacy: 0.1, access: 0.1, reliability: 0.25, compliance: 0.1, uptime: 0.25, resilience: 0.2 },
    enforcement: { onExfiltration: "throttle", autoQuarantine: false, disruptiveActionsNeedApproval: true },
  }),
  "smart-city": vertical({
    id: "smart-city",
    title: "Smart city",
    rationale:
      "Public sensors and cameras: location and image privacy matter, and services must stay up; a balanced profile leaning to privacy and uptime.",
    cia: { dataPrivacy: 0.25, access: 0.15, reliability: 0.15, compliance: 0.1, uptime: 0.2, resilience: 0.15 },
    enforcement: { onExfiltration: "quarantine", autoQuarantine: true, disruptiveActionsNeedApproval: false },
  }),
  industrial: vertical({
    id: "industrial",
    title: "Industrial / OT (incl. energy)",
    rationale:
      "Control systems (IEC 62443): integrity and availability of the process first, data privacy last; safety functions are never cut off without approval.",
    cia: { dataPrivacy: 0.05, access: 0.15, reliability: 0.25, compliance: 0.15, uptime: 0.2, resilience: 0.2 },
    enforcement: { onExfiltration: "throttle", autoQuarantine: false, disruptiveActionsNeedApproval: true },
  }),
  payments: vertical({
    id: "payments",
    title: "Payments",
    rationale:
      "Card data and transaction integrity (PCI DSS 4.0): confidentiality and compliance first; a terminal out of service is an inconvenience, a leak is a breach.",
    cia: { dataPrivacy: 0.3, access: 0.2, reliability: 0.15, compliance: 0.2, uptime: 0.1, resilience: 0.05 },
    enforcement: { onExfiltration: "quarantine", autoQuarantine: true, disruptiveActionsNeedApproval: false },
  }),
  default: vertical({
    id: "default",
    title: "Default",
    rationale: "No industry given: the six outcomes weigh the same.",
    cia: { dataPrivacy: 1 / 6, access: 1 / 6, reliability: 1 / 6, compliance: 1 / 6, uptime: 1 / 6, resilience: 1 / 6 },
    enforcement: { onExfiltration: "quarantine", autoQuarantine: true, disruptiveActionsNeedApproval: false },
  }),
});

/**
 * Device profiles (policy/profiles/*.yaml) name a `vertical` from policy's own list; this is
 * how it maps to a trust vertical. `energy` (smart meters, grid) is operational technology
 * under IEC 62443, so it maps to `industrial`; `generic` maps to `default`. `payments` has
 * no device profile yet: a deployment selects it with the `trust.vertical` setting.
 */
export const PROFILE_VERTICAL_TO_VERTICAL: Readonly<Record<ProfileVertical, VerticalId>> = Object.freeze({
  healthcare: "healthcare",
  industrial: "industrial",
  "smart-city": "smart-city",
  automotive: "automotive",
  energy: "industrial",
  generic: "default",
});

/** The trust vertical of a device profile's `vertical` field. */
export function verticalOfProfile(profileVertical: ProfileVertical): Vertical {
  return VERTICALS[PROFILE_VERTICAL_TO_VERTICAL[profileVertical]];
}

/** Weight of each pillar (the sum of its two outcomes). */
export function pillarWeights(cia: CiaWeights): Readonly<Record<CiaPillar, number>> {
  return {
    confidentiality: cia.dataPrivacy + cia.access,
    integrity: cia.reliability + cia.compliance,
    availability: cia.uptime + cia.resilience,
  };
}

export function isVerticalId(value: string): value is VerticalId {
  return (VERTICAL_IDS as readonly string[]).includes(value);
}
