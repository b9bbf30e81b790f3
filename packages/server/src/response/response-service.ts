import { randomUUID } from "node:crypto";
import { VigilError, iso, parseDeviceId, type Clock, type DeviceId, type Logger, type Millis } from "../core/index.js";
import type { Profile, Tier } from "../policy/index.js";
import type { SignalBus, SignalMap } from "../signals/index.js";
import { VERTICALS, lowerTier, verticalOfProfile, type VerticalId } from "../trust/index.js";
import {
  SEVERITY_RANK,
  aggregateMeasures,
  canMove,
  isActive,
  type Incident,
  type IncidentSeverity,
  type IncidentState,
  type Mitigation,
  type TimelineEntry,
} from "./incident.js";
import type { EventSink, OutgoingEvent } from "./outgoing-event.js";
import { DISRUPTIVE, matches, type Playbook, type PlaybookAction } from "./playbook.js";
import type { DeviceRevoker, DeviceSessions, IncidentRepository } from "./ports.js";

export interface ResponseServiceDeps {
  readonly repository: IncidentRepository;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly settings: { readonly groupWindowMs: number; readonly approvalTimeoutMs: number; readonly tickMs: number };
  /** Tried in order; the first that matches (and has not run for the incident) runs. */
  readonly playbooks: readonly Playbook[];
  /** A device's profile id (from its record), or null/undefined when unknown. */
  readonly profileOf: (device: DeviceId) => Promise<string | null | undefined>;
  readonly profiles: (profileId: string) => Profile | undefined;
  /** `auto`: each device's profile decides; else the deployment's vertical. */
  readonly vertical: "auto" | VerticalId;
  /** Late-bound: the gateway starts before response but may be disabled. */
  readonly sessions: () => DeviceSessions | undefined;
  readonly revoker?: DeviceRevoker | undefined;
  /** The tier a device would have without any mitigation (trust's). */
  readonly naturalTier: (device: DeviceId) => Promise<Tier>;
  readonly sinks?: readonly EventSink[];
}

/** One piece of evidence about a device, from a finding or an identity/enrolment signal. */
interface Evidence {
  readonly device: DeviceId;
  readonly ref: string;
  readonly rule: string;
  readonly category: string;
  readonly severity: IncidentSeverity;
  readonly at: Millis;
  readonly firstEventAt: Millis;
  readonly signal: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/**
 * Incident response: evidence about a device (detection's findings, a suspected cloned
 * identity, a replayed claim token) opens an incident or joins the device's active one; the
 * first matching playbook runs its actions in order; disruptive actions on safety-critical
 * devices wait for an operator with a timeout and a safe default; mitigations carry an expiry
 * or a release condition and hold the device's tier down (`floor`) until released. Every step
 * is on the incident's timeline and is a signal (so it is audited).
 */
export class ResponseService {
  readonly #d: ResponseServiceDeps;
  /** device -> its newest active incident. */
  readonly #active = new Map<DeviceId, Incident>();
  #chain: Promise<unknown> = Promise.resolve();
  #offs: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: ResponseServiceDeps) {
    this.#d = deps;
  }

  async start(): Promise<void> {
    for (const incident of await this.#d.repository.listActive()) {
      const known = this.#active.get(incident.device);
      if (known === undefined || known.openedAt < incident.openedAt) this.#active.set(incident.device, incident);
    }
    const bus = this.#d.bus;
    this.#offs = [
      bus.on("finding.raised", (f) => this.#onFinding(f)),
      bus.on("identity.cloned_suspected", (s) => this.#onCloned(s)),
      bus.on("enrollment.token_replayed", (s) => this.#onReplayed(s)),
      bus.on("gateway.connected", (s) => this.#onConnected(s)),
      bus.on("enrollment.completed", (s) => this.#onEnrolled(s)),
    ];
    this.#timer = setInterval(() => void this.sweep(), this.#d.settings.tickMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    for (const off of this.#offs) off();
    this.#offs = [];
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.idle();
    for (const sink of this.#d.sinks ?? []) await sink.stop();
  }

  /** Resolves once everything already received has been handled (tests; stop). */
  async idle(): Promise<void> {
    let last: Promise<unknown>;
    do {
      last = this.#chain;
      await last;
    } while (last !== this.#chain);
  }

  /** Waits until every sink has delivered (or dead-lettered) what it holds. */
  async drainSinks(): Promise<void> {
    await this.idle();
    for (const sink of this.#d.sinks ?? []) await sink.drain();
  }

  // --- reading ---------------------------------------------------------------------------

  /** The lowest tier a mitigation holds the device at, or `tier` when none does. */
  floor(device: string, tier: Tier): Tier {
    const m = this.#active.get(device as DeviceId)?.mitigation;
    return m === null || m === undefined ? tier : lowerTier(tier, m.tier);
  }

  /** Wraps the gateway for trust: a tier trust decides never lifts a device above its mitigation. */
  guard<T extends { applyTier(deviceId: string, tier: Tier, reason: string): Promise<number> }>(inner: T): T {
    return new Proxy(inner, {
      get: (target, prop, receiver) => {
        if (prop === "applyTier")
          return (deviceId: string, tier: Tier, reason: string) => target.applyTier(deviceId, this.floor(deviceId, tier), reason);
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  get(id: string): Promise<Incident | undefined> {
    return this.#d.repository.get(id);
  }

  list(query: { limit: number; state?: IncidentState; device?: string }): Promise<Incident[]> {
    return this.#d.repository.list({
      limit: query.limit,
      state: query.state,
      device: query.device === undefined ? undefined : (query.device as DeviceId),
    });
  }

  async measures(limit = 10_000): Promise<ReturnType<typeof aggregateMeasures>> {
    return aggregateMeasures(await this.#d.repository.list({ limit }));
  }

  get playbooks(): readonly Playbook[] {
    return this.#d.playbooks;
  }

  // --- operator actions ------------------------------------------------------------------

  note(id: string, text: string, by: string): Promise<Incident> {
    return this.#serial(async () => {
      const inc = await this.#load(id);
      this.#push(inc, { kind: "note", summary: text, ref: null, by });
      this.#d.bus.emit("incident.noted", { incident: inc.id, device: inc.device, by });
      await this.#save(inc);
      return inc;
    });
  }

  /** Approves or denies the incident's pending disruptive actions. */
  decide(id: string, decision: "approved" | "denied", by: string): Promise<Incident> {
    return this.#serial(async () => {
      const inc = await this.#load(id);
      if (inc.approval === null) {
        throw new VigilError("INCIDENT_NO_PENDING_APPROVAL", `incident ${id} has no action waiting for approval`);
      }
      await this.#settle(inc, decision, by);
      await this.#save(inc);
      return inc;
    });
  }

  /** Lifts the incident's mitigation: the device gets its own tier back and the incident is recovering. */
  release(id: string, by: string): Promise<Incident> {
    return this.#serial(async () => {
      const inc = await this.#load(id);
      if (inc.mitigation === null) {
        throw new VigilError("INCIDENT_TRANSITION_INVALID", `incident ${id} holds no mitigation to release`);
      }
      await this.#release(inc, by, "released by an operator");
      await this.#save(inc);
      return inc;
    });
  }

  /** `resolved` or `closed` by an operator. */
  transition(id: string, to: "resolved" | "closed", by: string, reason = ""): Promise<Incident> {
    return this.#serial(async () => {
      const inc = await this.#load(id);
      if (!canMove(inc.state, to)) {
        throw new VigilError("INCIDENT_TRANSITION_INVALID", `incident ${id} is ${inc.state}: it cannot become ${to}`);
      }
      if (to === "closed" && inc.mitigation !== null) await this.#release(inc, by, "incident closed");
      this.#move(inc, to, by, reason || `${to} by an operator`);
      await this.#save(inc);
      return inc;
    });
  }

  /** Expires approvals (safe default) and mitigations whose time is up. */
  sweep(): Promise<void> {
    return this.#serial(async () => {
      const now = this.#d.clock.now();
      for (const inc of [...this.#active.values()]) {
        let changed = false;
        if (inc.approval !== null && inc.approval.expiresAt <= now) {
          await this.#settle(inc, "timed_out", "system");
          changed = true;
        }
        if (inc.mitigation?.until != null && inc.mitigation.until <= now) {
          await this.#release(inc, "system", `${inc.mitigation.kind} expired`);
          changed = true;
        }
        if (changed) await this.#save(inc);
      }
    });
  }

  // --- evidence --------------------------------------------------------------------------

  #onFinding(f: SignalMap["finding.raised"]): void {
    const device = parseDeviceId(f.device);
    if (device === undefined) return;
    let detail: Record<string, unknown> = {};
    try {
      detail = JSON.parse(f.evidence) as Record<string, unknown>;
    } catch {
      detail = { raw: f.evidence.slice(0, 200) };
    }
    const now = this.#d.clock.now();
    const first = typeof detail.firstEventAt === "number" && detail.firstEventAt <= now ? (detail.firstEventAt as Millis) : now;
    this.#ingest({
      device,
      ref: f.id,
      rule: f.rule,
      category: f.category,
      severity: f.severity,
      at: now,
      firstEventAt: first,
      signal: "finding.raised",
      detail,
    });
  }

  #onCloned(s: SignalMap["identity.cloned_suspected"]): void {
    const device = parseDeviceId(s.device);
    if (device === undefined) return;
    const now = this.#d.clock.now();
    this.#ingest({
      device,
      ref: s.serials.join(",") || s.device,
      rule: "identity_cloned",
      category: "identity",
      severity: s.sameHost ? "low" : "critical",
      at: now,
      firstEventAt: now,
      signal: "identity.cloned_suspected",
      detail: { remotes: s.remotes, sameHost: s.sameHost },
    });
  }

  #onReplayed(s: SignalMap["enrollment.token_replayed"]): void {
    const device = s.device === null ? undefined : parseDeviceId(s.device);
    if (device === undefined) return;
    const now = this.#d.clock.now();
    this.#ingest({
      device,
      ref: s.tokenId,
      rule: "token_replayed",
      category: "identity",
      severity: "high",
      at: now,
      firstEventAt: now,
      signal: "enrollment.token_replayed",
      detail: { remote: s.remote },
    });
  }

  /** A device admitted at the door again: a recovering incident is resolved. */
  #onConnected(s: SignalMap["gateway.connected"]): void {
    const device = parseDeviceId(s.device);
    if (device === undefined || s.tier === "quarantine" || this.#active.get(device)?.state !== "recovering") return;
    void this.#serial(async () => {
      const inc = this.#active.get(device);
      if (inc?.state !== "recovering" || inc.mitigation !== null) return;
      this.#move(inc, "resolved", "system", `re-admitted: connected with certificate ${s.serial} at tier ${s.tier}`);
      await this.#save(inc);
    });
  }

  /** A clean re-attestation lifts a mitigation that waits for one. */
  #onEnrolled(s: SignalMap["enrollment.completed"]): void {
    const device = parseDeviceId(s.device);
    if (device === undefined || this.#active.get(device)?.mitigation?.releaseOn !== "reattestation") return;
    void this.#serial(async () => {
      const inc = this.#active.get(device);
      if (inc?.mitigation?.releaseOn !== "reattestation") return;
      await this.#release(inc, "system", `re-attested (${s.method}, certificate ${s.serial})`);
      if (inc.state === "recovering") this.#move(inc, "resolved", "system", "passed enrolment's checks with a new key");
      await this.#save(inc);
    });
  }

  #ingest(e: Evidence): void {
    void this.#serial(async () => {
      let inc = this.#active.get(e.device);
      const joins =
        inc !== undefined &&
        (inc.state === "contained" || inc.state === "recovering" || e.at - inc.lastEvidenceAt <= this.#d.settings.groupWindowMs);
      if (inc === undefined || !joins) {
        inc = this.#open(e);
      } else {
        inc.evidenceCount++;
        inc.lastEvidenceAt = e.at;
        if (e.firstEventAt < inc.firstEvidenceAt) inc.firstEvidenceAt = e.firstEventAt;
        if (SEVERITY_RANK[e.severity] > SEVERITY_RANK[inc.severity]) inc.severity = e.severity;
        if (!inc.rules.includes(e.rule)) inc.rules.push(e.rule);
        if (!inc.categories.includes(e.category)) inc.categories.push(e.category);
        this.#evidenceEntry(inc, e);
        if (inc.state === "recovering") this.#move(inc, "contained", "system", `relapse: ${e.rule}`);
      }
      await this.#runPlaybook(inc, e);
      await this.#save(inc);
    }).catch((error: unknown) => this.#d.log.error({ err: error, device: e.device }, "incident response failed"));
  }

  #open(e: Evidence): Incident {
    const now = this.#d.clock.now();
    const inc: Incident = {
      id: `inc-${randomUUID()}`,
      device: e.device,
      state: "open",
      severity: e.severity,
      rules: [e.rule],
      categories: [e.category],
      evidenceCount: 1,
      firstEvidenceAt: e.firstEventAt,
      lastEvidenceAt: e.at,
      openedAt: now,
      containedAt: null,
      recoveringAt: null,
      resolvedAt: null,
      closedAt: null,
      updatedAt: now,
      playbooks: [],
      mitigation: null,
      approval: null,
      timeline: [],
    };
    this.#evidenceEntry(inc, e);
    this.#push(inc, { kind: "state", summary: "opened", ref: null, by: "system", data: { to: "open" } });
    this.#active.set(e.device, inc);
    this.#d.bus.emit("incident.opened", { incident: inc.id, device: inc.device, severity: inc.severity, rule: e.rule });
    this.#out(inc, "incident.opened", { rule: e.rule, evidence: e.ref });
    return inc;
  }

  #evidenceEntry(inc: Incident, e: Evidence): void {
    this.#push(inc, {
      kind: "evidence",
      summary: `${e.signal}: ${e.rule} (${e.severity}, ${e.category})`,
      ref: e.ref,
      by: "system",
      data: { signal: e.signal, rule: e.rule, severity: e.severity, category: e.category, ...e.detail },
    });
  }

  // --- playbooks -------------------------------------------------------------------------

  async #runPlaybook(inc: Incident, e: Evidence): Promise<void> {
    const profileId = (await this.#d.profileOf(inc.device)) ?? null;
    const profile = profileId === null ? undefined : this.#d.profiles(profileId);
    const vertical =
      this.#d.vertical !== "auto"
        ? VERTICALS[this.#d.vertical]
        : profile === undefined
          ? VERTICALS.default
          : verticalOfProfile(profile.vertical);
    const input = { rule: e.rule, category: e.category, severity: e.severity, profile: profileId, vertical: vertical.id };
    const playbook = this.#d.playbooks.find((p) => matches(p, input));
    if (playbook === undefined || inc.playbooks.includes(playbook.id)) return;
    inc.playbooks.push(playbook.id);
    const needsApproval =
      playbook.approval.require === "always" ||
      (playbook.approval.require === "safety-critical" &&
        (profile?.safetyCritical === true || vertical.enforcement.disruptiveActionsNeedApproval));
    this.#push(inc, {
      kind: "action",
      summary: `playbook ${playbook.id} runs: ${playbook.actions.map((a) => a.type).join(", ")}`,
      ref: playbook.id,
      by: playbook.id,
    });
    const waiting: PlaybookAction[] = [];
    for (const action of playbook.actions) {
      if (needsApproval && DISRUPTIVE.has(action.type)) waiting.push(action);
      else await this.#execute(inc, action, playbook.id);
    }
    if (waiting.length === 0) return;
    if (inc.approval !== null) {
      this.#push(inc, {
        kind: "approval",
        summary: `already awaiting approval ${inc.approval.id}`,
        ref: inc.approval.id,
        by: playbook.id,
      });
      return;
    }
    const now = this.#d.clock.now();
    const reason =
      profile?.safetyCritical === true
        ? `profile ${profileId} is safety-critical`
        : `the ${vertical.id} vertical requires approval of disruptive actions`;
    inc.approval = {
      id: `apr-${randomUUID().slice(0, 8)}`,
      playbook: playbook.id,
      actions: waiting,
      requestedAt: now,
      expiresAt: (now + (playbook.approval.timeoutMs ?? this.#d.settings.approvalTimeoutMs)) as Millis,
      onTimeout: playbook.approval.onTimeout,
      reason,
    };
    this.#push(inc, {
      kind: "approval",
      summary: `approval requested for ${waiting.map((a) => a.type).join(", ")} (${reason}); on timeout: ${inc.approval.onTimeout}`,
      ref: inc.approval.id,
      by: playbook.id,
      data: { expiresAt: iso(inc.approval.expiresAt) },
    });
    this.#d.bus.emit("response.approval_requested", {
      incident: inc.id,
      device: inc.device,
      approval: inc.approval.id,
      actions: waiting.map((a) => a.type),
      reason,
      expiresAt: iso(inc.approval.expiresAt),
      onTimeout: inc.approval.onTimeout,
    });
    this.#out(inc, "incident.approval_requested", {
      approval: inc.approval.id,
      actions: waiting.map((a) => a.type),
      expiresAt: iso(inc.approval.expiresAt),
    });
  }

  async #settle(inc: Incident, decision: "approved" | "denied" | "timed_out", by: string): Promise<void> {
    const approval = inc.approval;
    if (approval === null) return;
    inc.approval = null;
    this.#push(inc, { kind: "approval", summary: `approval ${decision.replace("_", " ")}`, ref: approval.id, by });
    this.#d.bus.emit("response.approval_decided", {
      incident: inc.id,
      device: inc.device,
      approval: approval.id,
      decision,
      by,
    });
    const actions = approval.actions as PlaybookAction[];
    if (decision === "approved" || (decision === "timed_out" && approval.onTimeout === "proceed")) {
      for (const action of actions) await this.#execute(inc, action, by === "system" ? approval.playbook : by);
    } else if (decision === "timed_out" && approval.onTimeout === "throttle") {
      await this.#execute(inc, { type: "throttle" }, `${approval.playbook} (safe default)`);
    } else {
      for (const action of actions) this.#record(inc, action.type, "skipped", `not approved (${decision})`, by);
    }
  }

  async #execute(inc: Incident, action: PlaybookAction, by: string): Promise<void> {
    const d = this.#d;
    const now = d.clock.now();
    const sessions = d.sessions();
    try {
      switch (action.type) {
        case "throttle":
        case "deny":
        case "quarantine": {
          const tier = action.type === "throttle" ? "restricted" : "quarantine";
          const until = action.expiresAfterMs === undefined ? null : ((now + action.expiresAfterMs) as Millis);
          const kept = inc.mitigation;
          // A mitigation only ever tightens while the incident lasts; a longer expiry wins.
          const mitigation: Mitigation = {
            kind: kept !== null && kept.tier === "quarantine" && tier === "restricted" ? kept.kind : action.type,
            tier: kept === null ? tier : (lowerTier(kept.tier, tier) as "quarantine" | "restricted"),
            since: kept?.since ?? now,
            until:
              kept !== null && (kept.until === null || until === null)
                ? null
                : until === null
                  ? (kept?.until ?? null)
                  : (Math.max(until, kept?.until ?? 0) as Millis),
            releaseOn: kept?.releaseOn === "reattestation" ? "reattestation" : until === null ? "operator" : "expiry",
          };
          inc.mitigation = mitigation;
          const applied =
            sessions === undefined
              ? 0
              : await sessions.applyTier(inc.device, this.floor(inc.device, tier), `incident ${inc.id}: ${action.type}`);
          if (action.type === "deny") sessions?.disconnect(inc.device);
          this.#contained(inc, by);
          this.#record(
            inc,
            action.type,
            "done",
            `held at ${mitigation.tier}${mitigation.until === null ? ` until ${mitigation.releaseOn === "reattestation" ? "re-attestation" : "released"}` : ` until ${iso(mitigation.until)}`}; ${applied} live session(s) changed`,
            by,
          );
          return;
        }
        case "disconnect": {
          const had = sessions?.disconnect(inc.device) ?? false;
          this.#contained(inc, by);
          this.#record(inc, "disconnect", "done", had ? "live session closed" : "no live session", by);
          return;
        }
        case "revoke":
        case "reattest": {
          if (d.revoker === undefined) {
            this.#record(inc, action.type, "failed", "no identity service to revoke with", by);
            return;
          }
          const serials = await d.revoker.revokeDevice(inc.device, "keyCompromise", `incident:${inc.id}`);
          inc.mitigation = {
            kind: "revoke",
            tier: "quarantine",
            since: now,
            until: null,
            releaseOn: action.type === "reattest" ? "reattestation" : "operator",
          };
          this.#contained(inc, by);
          this.#record(
            inc,
            action.type,
            "done",
            `revoked ${serials.length} certificate(s)${action.type === "reattest" ? "; re-admitted after a new enrolment" : ""}`,
            by,
          );
          return;
        }
        case "notify": {
          this.#out(inc, "incident.notified", { note: action.note ?? null, timeline: inc.timeline.slice(-10) });
          this.#record(
            inc,
            "notify",
            "done",
            `sent to ${(d.sinks ?? []).map((s) => s.name).join(", ") || "no sink configured"}`,
            by,
          );
          return;
        }
      }
    } catch (error) {
      d.log.error({ err: error, incident: inc.id, action: action.type }, "response action failed");
      this.#record(inc, action.type, "failed", (error as Error).message, by);
    }
  }

  async #release(inc: Incident, by: string, why: string): Promise<void> {
    const m = inc.mitigation;
    if (m === null) return;
    inc.mitigation = null;
    const tier = await this.#d.naturalTier(inc.device);
    const sessions = this.#d.sessions();
    const live = sessions === undefined ? 0 : await sessions.applyTier(inc.device, tier, `incident ${inc.id}: ${why}`);
    this.#record(inc, "release", "done", `${m.kind} lifted (${why}); tier ${tier}`, by);
    if (inc.state === "open" || inc.state === "contained") this.#move(inc, "recovering", by, why);
    // A live session was admitted at the door and keeps its certificate: it is back.
    if (live > 0 && tier !== "quarantine" && inc.state === "recovering")
      this.#move(inc, "resolved", "system", `re-admitted: live session at tier ${tier}`);
  }

  #contained(inc: Incident, by: string): void {
    if (inc.containedAt === null) inc.containedAt = this.#d.clock.now();
    if (inc.state === "open" || inc.state === "recovering") this.#move(inc, "contained", by, "containment applied");
  }

  #record(inc: Incident, action: string, outcome: "done" | "failed" | "skipped", detail: string, by: string): void {
    this.#push(inc, { kind: "action", summary: `${action}: ${outcome} — ${detail}`, ref: action, by, data: { outcome } });
    this.#d.bus.emit("response.action_taken", { incident: inc.id, device: inc.device, action, outcome, detail, by });
    if (action !== "notify") this.#out(inc, "incident.action", { action, outcome, detail, by });
  }

  #move(inc: Incident, to: IncidentState, by: string, reason: string): void {
    const from = inc.state;
    if (from === to || !canMove(from, to)) return;
    const now = this.#d.clock.now();
    inc.state = to;
    if (to === "contained" && inc.containedAt === null) inc.containedAt = now;
    if (to === "recovering") inc.recoveringAt = now;
    if (to === "resolved") inc.resolvedAt = now;
    if (to === "closed") {
      inc.closedAt = now;
      if (inc.resolvedAt === null) inc.resolvedAt = now;
    }
    if (!isActive(to) && this.#active.get(inc.device) === inc) this.#active.delete(inc.device);
    this.#push(inc, { kind: "state", summary: `${from} -> ${to}: ${reason}`, ref: null, by, data: { from, to } });
    this.#d.bus.emit("incident.state_changed", { incident: inc.id, device: inc.device, from, to, reason, by });
    this.#out(inc, "incident.state_changed", { from, to, reason, by });
  }

  #push(inc: Incident, entry: Omit<TimelineEntry, "at">): void {
    const at = this.#d.clock.now();
    inc.timeline.push({ at, ...entry });
    inc.updatedAt = at;
  }

  #out(inc: Incident, type: string, detail: Record<string, unknown>): void {
    const sinks = this.#d.sinks ?? [];
    if (sinks.length === 0) return;
    const event: OutgoingEvent = {
      schema: "vigil.response.v1",
      id: randomUUID(),
      type,
      at: iso(this.#d.clock.now()),
      incident: {
        id: inc.id,
        device: inc.device,
        state: inc.state,
        severity: inc.severity,
        rules: [...inc.rules],
        categories: [...inc.categories],
        openedAt: iso(inc.openedAt),
      },
      detail,
    };
    for (const sink of sinks) sink.send(event);
  }

  async #load(id: string): Promise<Incident> {
    const active = [...this.#active.values()].find((i) => i.id === id);
    const inc = active ?? (await this.#d.repository.get(id));
    if (inc === undefined) throw new VigilError("INCIDENT_NOT_FOUND", `no incident ${id}`);
    return inc;
  }

  #save(inc: Incident): Promise<void> {
    return this.#d.repository.save(inc);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(work, work);
    this.#chain = next.catch(() => undefined);
    return next;
  }
}
