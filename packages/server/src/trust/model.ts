import type { Tier } from "../policy/index.js";
import { CIA_OUTCOMES, type CiaOutcome, type Vertical } from "./verticals.js";

/**
 * The trust model: a pure, deterministic function from evidence to a score in 0..100, a tier
 * and an explanation (DESIGN.md "Trust score"; NIST SP 800-207 §2.1 tenet 4: access decided
 * by dynamic policy including the observable state of the asset).
 *
 * - `applyEvidence(state, event)` folds one piece of evidence into a device's state: O(1)
 *   (every collection in the state is bounded), never mutates its input.
 * - `assess(state, now, params)` turns a state into a score, a tier and every factor with
 *   its weight, its contribution and its evidence: O(number of factors).
 *
 * Guarantees, checked by property tests (model.test.ts):
 * - bounded: 0 <= score <= 100; deterministic: same state, time and params, same result;
 * - monotone in evidence: bad evidence (a finding, a denial, a vulnerability, a revocation)
 *   never raises the score or the tier; good evidence (clean observed time, a resolved
 *   vulnerability, a renewed certificate) never lowers them;
 * - time alone never raises it: the only time-dependent factors (certificate expiry, age of
 *   an open vulnerability) only get worse as time passes. Recovery needs evidence.
 */

export const SEVERITIES = ["low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What detection says a finding is about; `exfiltration` triggers the vertical's enforcement. */
export const FINDING_CATEGORIES = [
  "exfiltration",
  "flood",
  "scanning",
  "brute-force",
  "identity",
  "anomaly",
  "policy",
  "other",
] as const;
export type FindingCategory = (typeof FINDING_CATEGORIES)[number];

/** Misconduct the gateway and enrollment report (denials, refused connections, auth failures). */
export const CONDUCT_KINDS = ["denied", "throttled", "connect-refused", "enrollment-failed", "token-replayed"] as const;
export type ConductKind = (typeof CONDUCT_KINDS)[number];

export const FACTOR_IDS = [
  "attestation",
  "keyStrength",
  "certificate",
  "firmware",
  "vulnerabilities",
  "behaviour",
  "conduct",
  "patchLatency",
  "goodStanding",
] as const;
export type FactorId = (typeof FACTOR_IDS)[number];

/** Where a fact came from: the signal, when, its id or link when it has one, and one line. */
export interface EvidenceRef {
  readonly signal: string;
  readonly at: number;
  /** A finding id, an advisory id, a certificate serial: what to follow to see more. */
  readonly ref: string | null;
  readonly summary: string;
  /** Clean observed time this entry stands for (consecutive clean periods are merged into one entry). */
  readonly observedMs?: number;
}

/** One piece of evidence about a device: what the trust service derives from a signal. */
export type TrustEvent =
  | {
      readonly kind: "attested";
      readonly at: number;
      readonly method: string;
      readonly strength: number;
      readonly keyType: string | null;
      readonly firmwareVersion: string | null;
      readonly serial: string | null;
      /** A re-enrollment of a device that was already enrolled (clean re-attestation). */
      readonly reattestation: boolean;
    }
  | {
      readonly kind: "certificate";
      readonly at: number;
      readonly serial: string;
      readonly notBefore: number;
      readonly notAfter: number;
    }
  | { readonly kind: "revoked"; readonly at: number; readonly reason: string; readonly serials: readonly string[] }
  | {
      readonly kind: "vulnerability";
      readonly at: number;
      readonly advisoryId: string;
      readonly severity: Severity;
      readonly cvss: number | null;
    }
  | { readonly kind: "vulnerability-resolved"; readonly at: number; readonly advisoryId: string }
  | {
      readonly kind: "finding";
      readonly at: number;
      readonly id: string;
      readonly rule: string;
      readonly severity: Severity;
      readonly category: FindingCategory;
    }
  | { readonly kind: "conduct"; readonly at: number; readonly conduct: ConductKind; readonly summary: string }
  /** Time the gateway observed the device connected without any finding or denial. */
  | { readonly kind: "clean"; readonly at: number; readonly ms: number };

/** Evidence that may only lower trust (property tests hold the model to it). */
export const BAD_EVENTS: ReadonlySet<TrustEvent["kind"]> = new Set(["revoked", "vulnerability", "finding", "conduct"]);
/** Evidence that may only raise trust. */
export const GOOD_EVENTS: ReadonlySet<TrustEvent["kind"]> = new Set(["clean", "vulnerability-resolved", "certificate"]);

/** A device's accumulated evidence. Plain JSON (persisted as is); every collection bounded. */
export interface TrustState {
  readonly v: 1;
  readonly attestation: { readonly method: string; readonly strength: number } | null;
  readonly keyType: string | null;
  readonly certificate: {
    readonly serial: string;
    readonly notBefore: number;
    readonly notAfter: number;
    readonly revoked: boolean;
  } | null;
  readonly firmwareVersion: string | null;
  /** Open vulnerabilities by advisory id (at most MAX_OPEN_VULNERABILITIES). */
  readonly vulnerabilities: Readonly<
    Record<string, { readonly severity: Severity; readonly cvss: number | null; readonly foundAt: number }>
  >;
  /** Points of open vulnerabilities that did not fit in the map (still counted, never forgotten). */
  readonly vulnerabilityOverflow: number;
  /** Findings' points not yet paid back by clean observed time. */
  readonly behaviourDebt: number;
  /** Denials' and authentication failures' points not yet paid back. */
  readonly conductDebt: number;
  /** Clean observed time (ms) since the last finding (reduced by findings and misconduct). */
  readonly cleanMs: number;
  /** Clean observed time since the last exfiltration finding; null: none pending. */
  readonly cleanSinceExfiltrationMs: number | null;
  /** Mean time from vulnerability.found to .resolved (exponentially weighted), and how many. */
  readonly patch: { readonly meanMs: number; readonly count: number } | null;
  /** The last few pieces of evidence of each factor. */
  readonly evidence: Readonly<Partial<Record<FactorId, readonly EvidenceRef[]>>>;
}

export const MAX_OPEN_VULNERABILITIES = 64;
export const EVIDENCE_PER_FACTOR = 5;
const DAY = 86_400_000;

export function emptyTrustState(): TrustState {
  return {
    v: 1,
    attestation: null,
    keyType: null,
    certificate: null,
    firmwareVersion: null,
    vulnerabilities: {},
    vulnerabilityOverflow: 0,
    behaviourDebt: 0,
    conductDebt: 0,
    cleanMs: 0,
    cleanSinceExfiltrationMs: null,
    patch: null,
    evidence: {},
  };
}

/** Tunables of the model; defaults in `DEFAULT_MODEL_PARAMS`, thresholds from config `trust`. */
export interface ModelParams {
  /** Lowest score of each tier above quarantine (strictly increasing). */
  readonly thresholds: { readonly restricted: number; readonly standard: number; readonly trusted: number };
  /** Debt points paid back per day of clean observed time (behaviour and conduct alike). */
  readonly recoveryPointsPerCleanDay: number;
  /** Behaviour debt at which the tier is held at `restricted`, and at `quarantine`. */
  readonly restrictDebt: number;
  readonly quarantineDebt: number;
  /** Clean observed time after an exfiltration finding before its enforcement lifts. */
  readonly exfiltrationHoldMs: number;
  /** Clean observed time that counts as full good standing. */
  readonly fullStandingMs: number;
}

export const DEFAULT_MODEL_PARAMS: ModelParams = Object.freeze({
  thresholds: Object.freeze({ restricted: 25, standard: 50, trusted: 85 }),
  recoveryPointsPerCleanDay: 10,
  restrictDebt: 30,
  quarantineDebt: 60,
  exfiltrationHoldMs: 3 * DAY,
  fullStandingMs: 30 * DAY,
});

/** What each factor is, its base weight (the `default` vertical's; sums to 1), and which CIA outcomes it protects. */
export interface FactorDefinition {
  readonly id: FactorId;
  readonly title: string;
  readonly baseWeight: number;
  /** Shares of the CIA outcomes this factor protects (sum to 1): how verticals re-weight it. */
  readonly protects: Readonly<Partial<Record<CiaOutcome, number>>>;
  readonly meaning: string;
}

export const FACTORS: readonly FactorDefinition[] = Object.freeze([
  {
    id: "attestation",
    title: "Attestation",
    baseWeight: 0.2,
    protects: { access: 0.5, compliance: 0.5 },
    meaning:
      "How strongly the device proved its identity at enrollment: the method's strength / 100 (manufacturer certificate 90, pre-registered key 70, bound claim token 50, claim token 40).",
  },
  {
    id: "keyStrength",
    title: "Key strength",
    baseWeight: 0.1,
    protects: { dataPrivacy: 0.5, access: 0.5 },
    meaning: "The device key's type: EC P-384 1.0, EC P-256 0.9, RSA >= 3072 0.85, RSA 2048 0.6, unknown 0.",
  },
  {
    id: "certificate",
    title: "Certificate age and expiry",
    baseWeight: 0.1,
    protects: { access: 0.5, compliance: 0.5 },
    meaning:
      "1.0 while more than a third of the certificate's lifetime remains (it renews at two thirds), falling to 0.4 at expiry; 0 when expired or revoked; x0.8 for a lifetime over 90 days; 0.5 when no certificate is known.",
  },
  {
    id: "firmware",
    title: "Firmware currency",
    baseWeight: 0.1,
    protects: { reliability: 0.5, compliance: 0.5 },
    meaning:
      "0.8 when the firmware version is declared, 0.4 when unknown (versions behind the newest release count once OTA knows the releases).",
  },
  {
    id: "vulnerabilities",
    title: "Known vulnerabilities",
    baseWeight: 0.15,
    protects: { dataPrivacy: 0.4, reliability: 0.3, resilience: 0.3 },
    meaning:
      "1 - points/100 of the open advisories (critical 50, high 25, medium 10, low 3); an open critical one holds the tier at restricted.",
  },
  {
    id: "behaviour",
    title: "Behaviour (findings)",
    baseWeight: 0.15,
    protects: { dataPrivacy: 0.4, access: 0.3, reliability: 0.3 },
    meaning:
      "1 - debt/100, where each detection finding adds debt (low 5, medium 15, high 35, critical 60) and clean observed time pays it back; debt >= 30 holds the tier at restricted, >= 60 at quarantine.",
  },
  {
    id: "conduct",
    title: "Policy denials and authentication failures",
    baseWeight: 0.08,
    protects: { access: 0.6, uptime: 0.4 },
    meaning:
      "1 - debt/50, where a denied publish/subscribe adds 3, a throttled burst 1, a refused connection or failed enrollment 5, a replayed claim token 10; clean observed time pays it back.",
  },
  {
    id: "patchLatency",
    title: "Patch latency",
    baseWeight: 0.04,
    protects: { resilience: 0.6, compliance: 0.4 },
    meaning:
      "How fast vulnerabilities get fixed: 1.0 within 7 days, 0 at 90 days or more, linear between; the mean of past fixes and the age of the oldest open one, whichever is worse; 0.7 before any history.",
  },
  {
    id: "goodStanding",
    title: "Time in good standing",
    baseWeight: 0.08,
    protects: { reliability: 0.4, uptime: 0.6 },
    meaning:
      "Clean time observed by the gateway (connected, no finding, no denial) over 30 days, at most 1; a finding halves (low), quarters (medium) or zeroes (high, critical) it.",
  },
]);

const FINDING_POINTS: Readonly<Record<Severity, number>> = { low: 5, medium: 15, high: 35, critical: 60 };
const STANDING_KEPT: Readonly<Record<Severity, number>> = { low: 0.5, medium: 0.25, high: 0, critical: 0 };
const VULNERABILITY_POINTS: Readonly<Record<Severity, number>> = { low: 3, medium: 10, high: 25, critical: 50 };
const CONDUCT_POINTS: Readonly<Record<ConductKind, number>> = {
  denied: 3,
  throttled: 1,
  "connect-refused": 5,
  "enrollment-failed": 5,
  "token-replayed": 10,
};
const BEHAVIOUR_DEBT_CAP = 100;
const CONDUCT_DEBT_CAP = 50;
/** Debt beyond the caps is kept (so it takes longer to pay back) only up to this multiple. */
const DEBT_CEILING_MULTIPLE = 3;
const CONDUCT_STANDING_KEPT = 0.9;
const PATCH_GOOD_MS = 7 * DAY;
const PATCH_BAD_MS = 90 * DAY;
const PATCH_PRIOR = 0.7;
const PATCH_ALPHA = 0.3;
const LONG_LIVED_MS = 90 * DAY;

function clamp01(x: number): number {
  return x <= 0 ? 0 : x >= 1 ? 1 : x;
}

type Evidence = TrustState["evidence"];

function pushEvidence(state: TrustState, factor: FactorId, ref: EvidenceRef): Evidence {
  return withEvidence(state.evidence, [[factor, ref]]);
}

/** Appends evidence, keeping the last EVIDENCE_PER_FACTOR entries of each factor. */
function withEvidence(evidence: Evidence, refs: readonly [FactorId, EvidenceRef][]): Evidence {
  const out: Partial<Record<FactorId, readonly EvidenceRef[]>> = { ...evidence };
  for (const [factor, ref] of refs) {
    const list = out[factor] ?? [];
    out[factor] =
      list.length >= EVIDENCE_PER_FACTOR ? [...list.slice(list.length - EVIDENCE_PER_FACTOR + 1), ref] : [...list, ref];
  }
  return out;
}

/** Folds one piece of evidence into a state. Pure and O(1). */
export function applyEvidence(state: TrustState, event: TrustEvent, params: ModelParams = DEFAULT_MODEL_PARAMS): TrustState {
  switch (event.kind) {
    case "attested": {
      const ref = (summary: string): EvidenceRef => ({
        signal: "enrollment.completed",
        at: event.at,
        ref: event.serial,
        summary,
      });
      const refs: [FactorId, EvidenceRef][] = [
        [
          "attestation",
          ref(`${event.reattestation ? "re-attested" : "attested"} by ${event.method}, strength ${event.strength}`),
        ],
      ];
      if (event.keyType !== null) refs.push(["keyStrength", ref(`key ${event.keyType}`)]);
      if (event.firmwareVersion !== null) refs.push(["firmware", ref(`firmware ${event.firmwareVersion} declared`)]);
      // A clean re-attestation re-proves the identity: authentication misconduct is forgiven,
      // behaviour debt halved (what the device did is not undone by proving who it is).
      const reattest = event.reattestation;
      if (reattest && state.conductDebt > 0) refs.push(["conduct", ref("re-attestation cleared authentication debt")]);
      if (reattest && state.behaviourDebt > 0) refs.push(["behaviour", ref("re-attestation halved behaviour debt")]);
      return {
        ...state,
        attestation: { method: event.method, strength: Math.max(0, Math.min(100, event.strength)) },
        keyType: event.keyType ?? state.keyType,
        firmwareVersion: event.firmwareVersion ?? state.firmwareVersion,
        conductDebt: reattest ? 0 : state.conductDebt,
        behaviourDebt: reattest ? state.behaviourDebt / 2 : state.behaviourDebt,
        evidence: withEvidence(state.evidence, refs),
      };
    }
    case "certificate": {
      const current = state.certificate;
      // An older certificate (a late signal) never replaces a newer one; a revoked one stays revoked.
      // A device re-admitted at the door (re-attestation, re-provisioning) gets a new certificate,
      // issued after the revocation: that one is scored on its own evidence.
      const readmitted = current?.revoked === true && event.serial !== current.serial && event.notAfter >= current.notAfter;
      if (current !== null && !readmitted && (current.revoked || current.notAfter > event.notAfter)) return state;
      return {
        ...state,
        certificate: { serial: event.serial, notBefore: event.notBefore, notAfter: event.notAfter, revoked: false },
        evidence: pushEvidence(state, "certificate", {
          signal: "identity.issued",
          at: event.at,
          ref: event.serial,
          summary: `certificate ${event.serial} valid until ${new Date(event.notAfter).toISOString()}`,
        }),
      };
    }
    case "revoked": {
      const cert = state.certificate ?? {
        serial: event.serials[0] ?? "unknown",
        notBefore: event.at,
        notAfter: event.at,
        revoked: true,
      };
      return {
        ...state,
        certificate: { ...cert, revoked: true },
        evidence: pushEvidence(state, "certificate", {
          signal: "identity.revoked",
          at: event.at,
          ref: event.serials.join(",") || null,
          summary: `revoked: ${event.reason}`,
        }),
      };
    }
    case "vulnerability": {
      const ref: EvidenceRef = {
        signal: "vulnerability.found",
        at: event.at,
        ref: event.advisoryId,
        summary: `${event.advisoryId} (${event.severity}${event.cvss === null ? "" : `, CVSS ${event.cvss}`})`,
      };
      const existing = state.vulnerabilities[event.advisoryId];
      if (existing !== undefined) {
        // Re-reported: keep the first sighting (patch latency counts from it) and the worse severity.
        if (VULNERABILITY_POINTS[event.severity] <= VULNERABILITY_POINTS[existing.severity]) return state;
        return {
          ...state,
          vulnerabilities: {
            ...state.vulnerabilities,
            [event.advisoryId]: { ...existing, severity: event.severity, cvss: event.cvss },
          },
          evidence: pushEvidence(state, "vulnerabilities", ref),
        };
      }
      if (Object.keys(state.vulnerabilities).length >= MAX_OPEN_VULNERABILITIES) {
        return {
          ...state,
          vulnerabilityOverflow: state.vulnerabilityOverflow + VULNERABILITY_POINTS[event.severity],
          evidence: pushEvidence(state, "vulnerabilities", ref),
        };
      }
      return {
        ...state,
        vulnerabilities: {
          ...state.vulnerabilities,
          [event.advisoryId]: { severity: event.severity, cvss: event.cvss, foundAt: event.at },
        },
        evidence: pushEvidence(state, "vulnerabilities", ref),
      };
    }
    case "vulnerability-resolved": {
      const open = state.vulnerabilities[event.advisoryId];
      if (open === undefined) return state;
      const rest = { ...state.vulnerabilities };
      delete rest[event.advisoryId];
      const took = Math.max(0, event.at - open.foundAt);
      const patch =
        state.patch === null
          ? { meanMs: took, count: 1 }
          : { meanMs: state.patch.meanMs * (1 - PATCH_ALPHA) + took * PATCH_ALPHA, count: state.patch.count + 1 };
      const ref: EvidenceRef = {
        signal: "vulnerability.resolved",
        at: event.at,
        ref: event.advisoryId,
        summary: `${event.advisoryId} fixed after ${(took / DAY).toFixed(1)} days`,
      };
      return {
        ...state,
        vulnerabilities: rest,
        patch,
        evidence: withEvidence(state.evidence, [
          ["vulnerabilities", ref],
          ["patchLatency", ref],
        ]),
      };
    }
    case "finding": {
      const ref: EvidenceRef = {
        signal: "finding.raised",
        at: event.at,
        ref: event.id,
        summary: `${event.rule} (${event.severity}, ${event.category})`,
      };
      const cap = BEHAVIOUR_DEBT_CAP * DEBT_CEILING_MULTIPLE;
      return {
        ...state,
        behaviourDebt: Math.min(cap, Math.max(state.behaviourDebt, state.behaviourDebt + FINDING_POINTS[event.severity])),
        cleanMs: state.cleanMs * STANDING_KEPT[event.severity],
        cleanSinceExfiltrationMs: event.category === "exfiltration" ? 0 : state.cleanSinceExfiltrationMs,
        evidence: withEvidence(state.evidence, [
          ["behaviour", ref],
          ["goodStanding", ref],
        ]),
      };
    }
    case "conduct": {
      const cap = CONDUCT_DEBT_CAP * DEBT_CEILING_MULTIPLE;
      return {
        ...state,
        conductDebt: Math.min(cap, Math.max(state.conductDebt, state.conductDebt + CONDUCT_POINTS[event.conduct])),
        cleanMs: state.cleanMs * CONDUCT_STANDING_KEPT,
        evidence: pushEvidence(state, "conduct", {
          signal: conductSignal(event.conduct),
          at: event.at,
          ref: null,
          summary: event.summary,
        }),
      };
    }
    case "clean": {
      const ms = Math.max(0, event.ms);
      if (ms === 0) return state;
      const paid = (ms / DAY) * params.recoveryPointsPerCleanDay;
      // Consecutive clean periods are merged into one evidence entry per factor.
      const evidence: Partial<Record<FactorId, readonly EvidenceRef[]>> = { ...state.evidence };
      const factors: FactorId[] = ["goodStanding"];
      if (state.behaviourDebt > 0) factors.push("behaviour");
      if (state.conductDebt > 0) factors.push("conduct");
      const refs: [FactorId, EvidenceRef][] = [];
      for (const factor of factors) {
        const list = evidence[factor] ?? [];
        const last = list[list.length - 1];
        if (last?.observedMs !== undefined) {
          const total = last.observedMs + ms;
          evidence[factor] = [...list.slice(0, -1), { ...last, at: event.at, observedMs: total, summary: cleanSummary(total) }];
        } else {
          refs.push([
            factor,
            { signal: "gateway.connected", at: event.at, ref: null, observedMs: ms, summary: cleanSummary(ms) },
          ]);
        }
      }
      return {
        ...state,
        behaviourDebt: Math.max(0, state.behaviourDebt - paid),
        conductDebt: Math.max(0, state.conductDebt - paid),
        cleanMs: state.cleanMs + ms,
        cleanSinceExfiltrationMs: state.cleanSinceExfiltrationMs === null ? null : state.cleanSinceExfiltrationMs + ms,
        evidence: withEvidence(evidence, refs),
      };
    }
  }
}

function cleanSummary(ms: number): string {
  return `${formatDuration(ms)} observed connected without a finding or denial`;
}

function conductSignal(kind: ConductKind): string {
  switch (kind) {
    case "denied":
      return "gateway.denied";
    case "throttled":
      return "gateway.throttled";
    case "connect-refused":
      return "gateway.connect_refused";
    case "enrollment-failed":
      return "enrollment.failed";
    case "token-replayed":
      return "enrollment.token_replayed";
  }
}

export function formatDuration(ms: number): string {
  if (ms >= DAY) return `${(ms / DAY).toFixed(1)} d`;
  if (ms >= 3_600_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  if (ms >= 60_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One factor of an assessment: what the API and `vigil trust show` print. */
export interface FactorExplanation {
  readonly id: FactorId;
  readonly title: string;
  /** Weight after the vertical's re-weighting (all weights sum to 1). */
  readonly weight: number;
  /** 0..1: how good the evidence of this factor is. */
  readonly value: number;
  /** Points of the score this factor gives: 100 x weight x value. */
  readonly contribution: number;
  /** Points it could give and does not: 100 x weight x (1 - value). */
  readonly lost: number;
  /** One line: why this value. */
  readonly detail: string;
  readonly evidence: readonly EvidenceRef[];
}

/** A rule that holds the tier below what the score alone would give. */
export interface TierCeiling {
  readonly tier: Tier;
  readonly reason: string;
  readonly evidence: readonly EvidenceRef[];
}

export interface TrustAssessment {
  /** 0..100, one decimal. */
  readonly score: number;
  /** The tier in force: the score's tier, lowered by any ceiling. */
  readonly tier: Tier;
  /** The tier the score alone maps to. */
  readonly scoreTier: Tier;
  readonly ceilings: readonly TierCeiling[];
  /** The vertical wanted quarantine but asks an operator first: the device is held at restricted. */
  readonly quarantineAwaitsApproval: boolean;
  readonly vertical: string;
  readonly factors: readonly FactorExplanation[];
}

const TIER_RANK: Readonly<Record<Tier, number>> = { quarantine: 0, restricted: 1, standard: 2, trusted: 3 };

export function tierRank(tier: Tier): number {
  return TIER_RANK[tier];
}

export function lowerTier(a: Tier, b: Tier): Tier {
  return TIER_RANK[a] <= TIER_RANK[b] ? a : b;
}

export function tierOfScore(score: number, thresholds: ModelParams["thresholds"]): Tier {
  if (score >= thresholds.trusted) return "trusted";
  if (score >= thresholds.standard) return "standard";
  if (score >= thresholds.restricted) return "restricted";
  return "quarantine";
}

/** Factor weights under a vertical: base weight x how much the vertical values what the factor protects, normalised to 1. */
export function factorWeights(vertical: Vertical): Readonly<Record<FactorId, number>> {
  const raw = FACTORS.map((f) => {
    let multiplier = 0;
    for (const outcome of CIA_OUTCOMES) multiplier += (f.protects[outcome] ?? 0) * vertical.cia[outcome] * CIA_OUTCOMES.length;
    return f.baseWeight * multiplier;
  });
  const total = raw.reduce((a, b) => a + b, 0);
  const out = {} as Record<FactorId, number>;
  FACTORS.forEach((f, i) => (out[f.id] = (raw[i] ?? 0) / total));
  return out;
}

const weightCache = new WeakMap<Vertical, Readonly<Record<FactorId, number>>>();
function weightsOf(vertical: Vertical): Readonly<Record<FactorId, number>> {
  let w = weightCache.get(vertical);
  if (w === undefined) {
    w = factorWeights(vertical);
    weightCache.set(vertical, w);
  }
  return w;
}

export function keyStrengthValue(keyType: string | null): number {
  if (keyType === null) return 0;
  if (keyType === "EC-P384") return 1;
  if (keyType === "EC-P256") return 0.9;
  const rsa = /^RSA-(\d+)$/.exec(keyType);
  if (rsa !== null) {
    const bits = Number(rsa[1]);
    return bits >= 3072 ? 0.85 : bits >= 2048 ? 0.6 : 0;
  }
  return 0;
}

function patchValue(ms: number): number {
  if (ms <= PATCH_GOOD_MS) return 1;
  if (ms >= PATCH_BAD_MS) return 0;
  return 1 - (ms - PATCH_GOOD_MS) / (PATCH_BAD_MS - PATCH_GOOD_MS);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Turns a state into a score, a tier and its explanation. Pure; O(factors + open vulnerabilities). */
export function assess(
  state: TrustState,
  now: number,
  vertical: Vertical,
  params: ModelParams = DEFAULT_MODEL_PARAMS,
): TrustAssessment {
  const weights = weightsOf(vertical);
  const values = {} as Record<FactorId, { value: number; detail: string }>;

  const att = state.attestation;
  values.attestation =
    att === null
      ? { value: 0, detail: "never attested" }
      : { value: clamp01(att.strength / 100), detail: `${att.method}, strength ${att.strength}` };

  values.keyStrength = { value: keyStrengthValue(state.keyType), detail: state.keyType ?? "key type unknown" };

  const cert = state.certificate;
  if (cert === null) values.certificate = { value: 0.5, detail: "no certificate known yet" };
  else if (cert.revoked) values.certificate = { value: 0, detail: `certificate ${cert.serial} revoked` };
  else if (now >= cert.notAfter) values.certificate = { value: 0, detail: `certificate ${cert.serial} expired` };
  else {
    const lifetime = Math.max(1, cert.notAfter - cert.notBefore);
    const remaining = clamp01((cert.notAfter - now) / lifetime);
    let value = remaining >= 1 / 3 ? 1 : 0.4 + 0.6 * remaining * 3;
    const longLived = lifetime > LONG_LIVED_MS;
    if (longLived) value *= 0.8;
    values.certificate = {
      value,
      detail: `${formatDuration(cert.notAfter - now)} of ${formatDuration(lifetime)} left${longLived ? " (long-lived)" : ""}`,
    };
  }

  values.firmware =
    state.firmwareVersion === null
      ? { value: 0.4, detail: "firmware version not declared" }
      : { value: 0.8, detail: `firmware ${state.firmwareVersion} declared` };

  let points = state.vulnerabilityOverflow;
  let oldestOpen = Infinity;
  let critical = 0;
  let open = 0;
  for (const id in state.vulnerabilities) {
    const v = state.vulnerabilities[id]!;
    points += VULNERABILITY_POINTS[v.severity];
    if (v.foundAt < oldestOpen) oldestOpen = v.foundAt;
    if (v.severity === "critical") critical++;
    open++;
  }
  values.vulnerabilities = {
    value: clamp01(1 - points / 100),
    detail: open === 0 && points === 0 ? "no open advisories" : `${open} open advisories, ${points} points`,
  };

  const behaviourDebt = Math.min(BEHAVIOUR_DEBT_CAP, state.behaviourDebt);
  values.behaviour = {
    value: clamp01(1 - behaviourDebt / BEHAVIOUR_DEBT_CAP),
    detail: state.behaviourDebt === 0 ? "no findings outstanding" : `finding debt ${round(state.behaviourDebt, 1)}`,
  };
  values.conduct = {
    value: clamp01(1 - Math.min(CONDUCT_DEBT_CAP, state.conductDebt) / CONDUCT_DEBT_CAP),
    detail: state.conductDebt === 0 ? "no denials outstanding" : `denial/authentication debt ${round(state.conductDebt, 1)}`,
  };

  const history = state.patch === null ? PATCH_PRIOR : patchValue(state.patch.meanMs);
  const openAge = oldestOpen === Infinity ? 0 : Math.max(0, now - oldestOpen);
  values.patchLatency = {
    value: Math.min(history, oldestOpen === Infinity ? 1 : patchValue(openAge)),
    detail:
      (state.patch === null
        ? "no fix history"
        : `mean fix time ${formatDuration(state.patch.meanMs)} over ${state.patch.count}`) +
      (oldestOpen === Infinity ? "" : `, oldest open ${formatDuration(openAge)}`),
  };

  values.goodStanding = {
    value: clamp01(state.cleanMs / params.fullStandingMs),
    detail: `${formatDuration(state.cleanMs)} clean observed time`,
  };

  let sum = 0;
  const factors: FactorExplanation[] = FACTORS.map((f) => {
    const w = weights[f.id];
    const { value, detail } = values[f.id];
    sum += w * value;
    return {
      id: f.id,
      title: f.title,
      weight: round(w, 4),
      value: round(value, 3),
      contribution: round(100 * w * value, 2),
      lost: round(100 * w * (1 - value), 2),
      detail,
      evidence: state.evidence[f.id] ?? [],
    };
  });
  const score = round(Math.min(100, Math.max(0, 100 * sum)), 1);
  const scoreTier = tierOfScore(score, params.thresholds);

  const ceilings: TierCeiling[] = [];
  if (cert?.revoked === true) {
    ceilings.push({ tier: "quarantine", reason: "its certificate was revoked", evidence: state.evidence.certificate ?? [] });
  }
  if (state.behaviourDebt >= params.quarantineDebt) {
    ceilings.push({
      tier: "quarantine",
      reason: `finding debt ${round(state.behaviourDebt, 1)} >= ${params.quarantineDebt}`,
      evidence: state.evidence.behaviour ?? [],
    });
  } else if (state.behaviourDebt >= params.restrictDebt) {
    ceilings.push({
      tier: "restricted",
      reason: `finding debt ${round(state.behaviourDebt, 1)} >= ${params.restrictDebt}`,
      evidence: state.evidence.behaviour ?? [],
    });
  }
  if (state.cleanSinceExfiltrationMs !== null && state.cleanSinceExfiltrationMs < params.exfiltrationHoldMs) {
    const tier: Tier = vertical.enforcement.onExfiltration === "quarantine" ? "quarantine" : "restricted";
    ceilings.push({
      tier,
      reason: `exfiltration finding (${vertical.id}: ${vertical.enforcement.onExfiltration}) until ${formatDuration(params.exfiltrationHoldMs)} of clean observed time (${formatDuration(state.cleanSinceExfiltrationMs)} so far)`,
      evidence: (state.evidence.behaviour ?? []).filter((e) => e.summary.includes("exfiltration")),
    });
  }
  if (critical > 0) {
    ceilings.push({
      tier: "restricted",
      reason: `${critical} open critical vulnerabilit${critical === 1 ? "y" : "ies"}`,
      evidence: state.evidence.vulnerabilities ?? [],
    });
  }

  let tier = scoreTier;
  for (const c of ceilings) tier = lowerTier(tier, c.tier);
  // Verticals that do not cut devices off on their own hold them at restricted instead.
  const quarantineAwaitsApproval = tier === "quarantine" && !vertical.enforcement.autoQuarantine;
  if (quarantineAwaitsApproval) tier = "restricted";
  return { score, tier, scoreTier, ceilings, quarantineAwaitsApproval, vertical: vertical.id, factors };
}
