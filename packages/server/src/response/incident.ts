import type { DeviceId, Millis } from "../core/index.js";

/** An incident's lifecycle. `closed` is final; the others move forward (and back to `contained` on relapse). */
export const INCIDENT_STATES = ["open", "contained", "recovering", "resolved", "closed"] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const SEVERITY_RANK = { low: 0, medium: 1, high: 2, critical: 3 } as const;
export type IncidentSeverity = keyof typeof SEVERITY_RANK;

/** Allowed transitions (an operator's or the service's). */
const NEXT: Readonly<Record<IncidentState, readonly IncidentState[]>> = {
  open: ["contained", "recovering", "resolved", "closed"],
  contained: ["recovering", "resolved", "closed"],
  recovering: ["contained", "resolved", "closed"],
  resolved: ["closed"],
  closed: [],
};

export function canMove(from: IncidentState, to: IncidentState): boolean {
  return NEXT[from].includes(to);
}

/** Whether new evidence about the device may still join the incident. */
export function isActive(state: IncidentState): boolean {
  return state === "open" || state === "contained" || state === "recovering";
}

export type TimelineKind = "evidence" | "action" | "state" | "note" | "approval";

export interface TimelineEntry {
  readonly at: Millis;
  readonly kind: TimelineKind;
  /** One line for people. */
  readonly summary: string;
  /** A finding id, an action name, an approval id. */
  readonly ref: string | null;
  /** `system`, a playbook id, or an operator. */
  readonly by: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** A mitigation in force: the tier the device is held at, until when, and why. */
export interface Mitigation {
  readonly kind: "quarantine" | "throttle" | "deny" | "revoke";
  readonly tier: "quarantine" | "restricted";
  readonly since: Millis;
  /** null: until an operator releases it or the device re-attests. */
  readonly until: Millis | null;
  /**
   * What lifts it besides an operator: `expiry` (its `until`), `reattestation` (the device passed
   * the checks at the door again: a new enrolment), `patched` (an OTA install or rollback reported
   * by the device, and no open vulnerability left in its assessment). `operator`: only an operator.
   */
  readonly releaseOn: "expiry" | "operator" | "reattestation" | "patched";
}

/** Disruptive actions waiting for an operator. */
export interface PendingApproval {
  readonly id: string;
  readonly playbook: string;
  readonly actions: readonly unknown[];
  readonly requestedAt: Millis;
  readonly expiresAt: Millis;
  readonly onTimeout: "skip" | "throttle" | "proceed";
  readonly reason: string;
}

export interface Incident {
  readonly id: string;
  readonly device: DeviceId;
  state: IncidentState;
  severity: IncidentSeverity;
  rules: string[];
  categories: string[];
  /** Evidence items (findings and identity/enrolment signals) grouped into it. */
  evidenceCount: number;
  /** When the earliest offending event happened (the detector's window start, or the signal's time). */
  firstEvidenceAt: Millis;
  lastEvidenceAt: Millis;
  readonly openedAt: Millis;
  containedAt: Millis | null;
  recoveringAt: Millis | null;
  resolvedAt: Millis | null;
  closedAt: Millis | null;
  updatedAt: Millis;
  /** Playbooks already run for it (one run per playbook per incident). */
  playbooks: string[];
  mitigation: Mitigation | null;
  approval: PendingApproval | null;
  timeline: TimelineEntry[];
  /** A firmware rollback sent and not yet reported done: the campaign and the good version. */
  awaitingFirmware?: { readonly campaign: string; readonly version: string | null } | null;
  /** A re-provisioning whose token the device has not acknowledged yet (it is held in quarantine meanwhile). */
  /** The firmware version the device last reported installed or rolled back to (for a `patched` release). */
  firmwareReported?: string | null;
  awaitingReprovision?: { readonly tokenTtlMs: number; readonly ackTimeoutMs: number; readonly by: string } | null;
  /** Set when the incident was opened about a device in a drill (`vigil drill`): the drill's id. Drills stay out of the fleet measures. */
  drill?: string | null;
}

/**
 * The measures, in milliseconds (null until the moment they measure has come):
 * - `mttd` (time to detect): incident opened − first evidence. First evidence is the time of the
 *   earliest offending event the detector counted (the finding's `firstEventAt` when it gives one,
 *   else the finding's time), so it includes the detector's window and the response's latency.
 * - `timeToContain`: first containment (quarantine, throttle, deny, disconnect, revoke) − opened.
 * - `mttr` (time to recover): resolved − opened (the device passed the checks at the door again,
 *   or an operator resolved it).
 */
export interface IncidentMeasures {
  readonly mttd: number;
  readonly timeToContain: number | null;
  readonly mttr: number | null;
}

export function measuresOf(i: Incident): IncidentMeasures {
  return {
    mttd: Math.max(0, i.openedAt - i.firstEvidenceAt),
    timeToContain: i.containedAt === null ? null : i.containedAt - i.openedAt,
    mttr: i.resolvedAt === null ? null : i.resolvedAt - i.openedAt,
  };
}

export interface AggregateMeasure {
  readonly count: number;
  readonly mean: number | null;
  readonly median: number | null;
  readonly max: number | null;
}

function aggregate(values: number[]): AggregateMeasure {
  if (values.length === 0) return { count: 0, mean: null, median: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    count: values.length,
    mean: values.reduce((s, v) => s + v, 0) / values.length,
    median,
    max: sorted[sorted.length - 1]!,
  };
}

/** Fleet measures over the incidents given (each incident counts once per measure it has). */
export function aggregateMeasures(incidents: readonly Incident[]): {
  incidents: number;
  mttd: AggregateMeasure;
  timeToContain: AggregateMeasure;
  mttr: AggregateMeasure;
} {
  const m = incidents.map(measuresOf);
  return {
    incidents: incidents.length,
    mttd: aggregate(m.map((x) => x.mttd)),
    timeToContain: aggregate(m.flatMap((x) => (x.timeToContain === null ? [] : [x.timeToContain]))),
    mttr: aggregate(m.flatMap((x) => (x.mttr === null ? [] : [x.mttr]))),
  };
}
