import { randomUUID } from "node:crypto";
import { VigilError, iso, parseDeviceId, type Clock, type DeviceId, type Logger, type Millis } from "../core/index.js";
import type { Profile, Tier } from "../policy/index.js";
import type { DrillRegistry, SignalBus, SignalMap } from "../signals/index.js";
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
import type {
  ControlChannel,
  DeviceReadmitter,
  DeviceRevoker,
  DeviceSessions,
  FirmwareRollback,
  IncidentRepository,
  ReprovisionTokens,
} from "./ports.js";

/** OTA refusals that mean the image or its metadata was altered (the SDK's `OtaRefused` reasons). */
const TAMPER_REASONS: ReadonlySet<string> = new Set([
  "hash_mismatch",
  "length_mismatch",
  "signature_invalid",
  "metadata_invalid",
  "counter_rollback",
]);

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
  /** Enrollment's re-admission list: `reattest` and `reprovision` let the device come back through the door. */
  readonly readmitter?: DeviceReadmitter | undefined;
  readonly reprovisionTokens?: ReprovisionTokens | undefined;
  /** Late-bound: the gateway's control channel. */
  readonly control?: () => ControlChannel | undefined;
  /** Late-bound: OTA's single-device rollback. */
  readonly firmware?: () => FirmwareRollback | undefined;
  /** Open vulnerabilities of the device in its assessment (a `patched` release needs 0). */
  readonly openVulnerabilities?: (device: DeviceId) => number;
  /** Drills in progress: incidents about their devices are tagged with the drill. */
  readonly drills?: DrillRegistry;
  /**
   * Several nodes on one store (docs/scale.md "Jobs that run once per cluster"): the sweep
   * takes this lock (`response.sweep`) and works on the store's incidents, not on this node's
   * copies, so a timed release or an approval timeout happens once per cluster, also for an
   * incident opened on a node that is gone. Absent: one node, the sweep works on memory.
   */
  readonly jobLock?: SweepLock | undefined;
}

/** The part of a `JobLock` (store or cluster) the sweep needs. */
export interface SweepLock {
  run<T>(name: string, job: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
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
  #sweeping = false;

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
      bus.on("ota.installed", (s) => this.#onFirmware(s.device, s.version, s.campaign, "installed")),
      bus.on("ota.failed", (s) => this.#onOtaFailed(s)),
      bus.on("ota.refused", (s) => this.#onOtaRefused(s)),
      bus.on("ota.rolled_back", (s) => this.#onFirmware(s.device, s.version, s.campaign, "rolled back")),
      bus.on("vulnerability.resolved", (s) => this.#onFirmware(s.device, s.firmwareVersion, null, "assessed")),
    ];
    this.#timer = setInterval(() => this.#tick(), this.#d.settings.tickMs);
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
    // Drills are exercises: their incidents do not count in the real response times.
    return aggregateMeasures((await this.#d.repository.list({ limit })).filter((i) => typeof i.drill !== "string"));
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

  /**
   * Rolls a revocation back the only safe way: the device goes on the re-admission list and may
   * enrol again through the door (attestation, posture, a new key); its old certificates stay
   * revoked. The mitigation then waits for that re-attestation.
   */
  readmit(id: string, by: string): Promise<Incident> {
    return this.#serial(async () => {
      const inc = await this.#load(id);
      if (inc.mitigation?.kind !== "revoke" || this.#d.readmitter === undefined) {
        throw new VigilError("INCIDENT_TRANSITION_INVALID", `incident ${id} holds no revocation to roll back`, {
          hint: "Only a `revoke`d device is re-admitted; release lifts the other mitigations.",
        });
      }
      await this.#d.readmitter.require({
        device: inc.device,
        reason: "reattestation",
        incident: inc.id,
        since: this.#d.clock.now(),
        tokenId: null,
      });
      inc.mitigation = { ...inc.mitigation, releaseOn: "reattestation" };
      this.#record(inc, "readmit", "done", "may enrol again through the door with a new key; old certificates stay revoked", by);
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

  /**
   * Expires approvals (safe default) and mitigations whose time is up. With a `jobLock`
   * (several nodes): first this node's view of the active incidents is replaced by the store's
   * (so `floor` holds a device down wherever its incident was opened, and an incident another
   * node released or closed is released here too); then, under the cluster-wide lock
   * `response.sweep`, each incident due is read again from the store, settled or released and
   * saved before the lock is let go: the next holder reads that save and finds nothing due.
   */
  sweep(): Promise<void> {
    return this.#serial(async () => {
      const lock = this.#d.jobLock;
      if (lock === undefined) {
        const now = this.#d.clock.now();
        for (const inc of [...this.#active.values()]) await this.#expire(inc, now);
        return;
      }
      await this.#reconcile();
      const now = this.#d.clock.now();
      const due = [...this.#active.values()].filter((inc) => isDue(inc, now));
      if (due.length === 0) return;
      await lock.run("response.sweep", async () => {
        for (const known of due) {
          const inc = await this.#d.repository.get(known.id);
          if (inc === undefined || !isActive(inc.state)) continue;
          this.#adopt(inc);
          await this.#expire(inc, this.#d.clock.now());
        }
      });
    });
  }

  /** The timer's sweep: one at a time (a slow store skips ticks rather than queueing them), failures logged. */
  #tick(): void {
    if (this.#sweeping) return;
    this.#sweeping = true;
    this.sweep()
      .catch((error: unknown) => this.#d.log.error({ err: error }, "response sweep failed"))
      .finally(() => (this.#sweeping = false));
  }

  /** Settles an expired approval and releases an expired mitigation of `inc`; saves it when changed. */
  async #expire(inc: Incident, now: Millis): Promise<void> {
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

  /**
   * Several nodes: the store's active incidents become this node's (newest per device). Runs
   * inside `#serial`, after this node's own saves, so the store holds this node's latest or a
   * newer one written by another node.
   */
  async #reconcile(): Promise<void> {
    const stored = new Map<DeviceId, Incident>();
    for (const inc of await this.#d.repository.listActive()) {
      const known = stored.get(inc.device);
      if (known === undefined || known.openedAt < inc.openedAt) stored.set(inc.device, inc);
    }
    this.#active.clear();
    for (const [device, inc] of stored) this.#active.set(device, inc);
  }

  /** Makes `inc` (just read from the store) this node's copy of its device's active incident. */
  #adopt(inc: Incident): void {
    const known = this.#active.get(inc.device);
    if (known === undefined || known.id === inc.id || known.openedAt <= inc.openedAt) this.#active.set(inc.device, inc);
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

  /**
   * A device refused an image because it does not match the signed metadata (hash, length,
   * signature, a rolled-back counter or metadata): someone altered the update on its way. The
   * device is the one offered it; the incident (rule `firmware_tampered`) says so. Ordinary
   * failures (download, install, wrong profile) are not evidence.
   */
  #onOtaFailed(s: SignalMap["ota.failed"]): void {
    const device = parseDeviceId(s.device);
    if (device === undefined || !TAMPER_REASONS.has(s.reason)) return;
    const now = this.#d.clock.now();
    this.#ingest({
      device,
      ref: `${s.campaign}:${s.version}`,
      rule: "firmware_tampered",
      category: "policy",
      severity: "high",
      at: now,
      firstEventAt: now,
      signal: "ota.failed",
      detail: { campaign: s.campaign, version: s.version, reason: s.reason, runningVersion: s.runningVersion },
    });
  }

  /**
   * A device refused an update that no campaign of Vigil's sent it: someone else tried to
   * change its firmware. An older version is a downgrade attempt (rule `firmware_downgrade`,
   * the classic way back to a known vulnerability); an image that fails its checks is
   * tampering (`firmware_tampered`). Either way the device defended itself; the incident is the
   * evidence that an attacker can reach its update channel.
   */
  #onOtaRefused(s: SignalMap["ota.refused"]): void {
    const device = parseDeviceId(s.device);
    if (device === undefined) return;
    const downgrade = s.reason === "downgrade" || s.reason === "counter_rollback";
    if (!downgrade && !TAMPER_REASONS.has(s.reason)) return;
    const now = this.#d.clock.now();
    this.#ingest({
      device,
      ref: `${s.campaign}:${s.version ?? "unknown"}`,
      rule: downgrade ? "firmware_downgrade" : "firmware_tampered",
      category: "policy",
      severity: "high",
      at: now,
      firstEventAt: now,
      signal: "ota.refused",
      detail: { campaign: s.campaign, version: s.version, reason: s.reason },
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

  /** A device admitted at the door again: a recovering incident is resolved. A pending re-provisioning token is sent. */
  #onConnected(s: SignalMap["gateway.connected"]): void {
    const device = parseDeviceId(s.device);
    if (device !== undefined && this.#active.get(device)?.awaitingReprovision != null) {
      void this.#serial(async () => {
        const inc = this.#active.get(device);
        if (inc?.awaitingReprovision == null) return;
        await this.#deliverReprovision(inc);
        await this.#save(inc);
      });
      return;
    }
    if (device === undefined || s.tier === "quarantine" || this.#active.get(device)?.state !== "recovering") return;
    void this.#serial(async () => {
      const inc = this.#active.get(device);
      if (inc?.state !== "recovering" || inc.mitigation !== null) return;
      this.#move(inc, "resolved", "system", `re-admitted: connected with certificate ${s.serial} at tier ${s.tier}`);
      await this.#save(inc);
    });
  }

  /**
   * A clean re-attestation (the device enrolled again: attestation, posture, a new key) lifts a
   * mitigation that waits for one: the incident is recovering ("recovered at the door"); it is
   * resolved when the device connects with its new certificate at a tier above quarantine.
   */
  #onEnrolled(s: SignalMap["enrollment.completed"]): void {
    const device = parseDeviceId(s.device);
    if (device === undefined || this.#active.get(device)?.mitigation?.releaseOn !== "reattestation") return;
    void this.#serial(async () => {
      const inc = this.#active.get(device);
      if (inc?.mitigation?.releaseOn !== "reattestation") return;
      await this.#release(
        inc,
        "system",
        `recovered: passed the checks at the door again (${s.method}, strength ${s.strength}, new certificate ${s.serial})`,
      );
      await this.#save(inc);
    });
  }

  /**
   * Firmware news about a device: a rollback this incident asked for reported done (the device
   * runs the good version), or patched firmware installed. Either lifts a `patched` mitigation
   * once the device's assessment shows no open vulnerability.
   */
  #onFirmware(rawDevice: string, version: string | null, campaign: string | null, what: string): void {
    const device = parseDeviceId(rawDevice);
    const known = device === undefined ? undefined : this.#active.get(device);
    if (device === undefined || known === undefined) return;
    if (known.awaitingFirmware == null && known.mitigation?.releaseOn !== "patched") return;
    void this.#serial(async () => {
      const inc = this.#active.get(device);
      if (inc === undefined) return;
      let changed = false;
      const awaiting = inc.awaitingFirmware;
      if (awaiting != null && what === "rolled back" && campaign === awaiting.campaign) {
        inc.awaitingFirmware = null;
        const good = awaiting.version === null || version === awaiting.version;
        this.#record(
          inc,
          "rollback",
          good ? "done" : "failed",
          good
            ? `the device reports the last good version ${version ?? "(unknown)"} running`
            : `the device reports ${version ?? "an unknown version"}, not the last good ${awaiting.version}`,
          "system",
        );
        changed = true;
        if (good && inc.mitigation === null) {
          this.#move(inc, "recovering", "system", `recovered: firmware rolled back to ${version ?? "its previous version"}`);
          this.#move(inc, "resolved", "system", "the device reported the good version over its live session");
        }
      }
      const m = inc.mitigation;
      // Patched = the device reported new or rolled-back firmware, and no open vulnerability is left.
      if (m?.releaseOn === "patched" && what !== "assessed") inc.firmwareReported = version ?? "(unknown)";
      if (m?.releaseOn === "patched" && inc.firmwareReported != null) {
        const open = this.#d.openVulnerabilities?.(device) ?? 0;
        if (open === 0) {
          await this.#release(inc, "system", `patched: firmware ${inc.firmwareReported} ${what}, assessment clean`);
        } else {
          this.#push(inc, {
            kind: "action",
            summary: `still held: firmware ${inc.firmwareReported} ${what} but ${open} vulnerabilit${open === 1 ? "y" : "ies"} open`,
            ref: "release",
            by: "system",
          });
        }
        changed = true;
      }
      if (changed) await this.#save(inc);
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
      drill: this.#d.drills?.drillOf(e.device, now) ?? null,
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
            releaseOn:
              kept?.releaseOn === "reattestation" || kept?.releaseOn === "patched"
                ? kept.releaseOn
                : (action.releaseOn ?? (until === null ? "operator" : "expiry")),
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
            `held at ${mitigation.tier} until ${[
              ...(mitigation.until === null ? [] : [iso(mitigation.until)]),
              ...(mitigation.releaseOn === "reattestation"
                ? ["re-attestation"]
                : mitigation.releaseOn === "patched"
                  ? ["patched firmware and a clean assessment"]
                  : []),
              "released",
            ].join(" or ")}; ${applied} live session(s) changed`,
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
        case "reprovision":
          await this.#reprovision(inc, action, by);
          return;
        case "rollback": {
          const ota = d.firmware?.();
          if (ota === undefined) {
            this.#record(inc, "rollback", "failed", "OTA is not running", by);
            return;
          }
          const r = await ota.rollbackDevice(inc.device, `incident:${inc.id}`);
          inc.awaitingFirmware = { campaign: r.campaign, version: r.fromVersion };
          this.#contained(inc, by);
          this.#record(
            inc,
            "rollback",
            "sent",
            `rollback of ${r.version} (campaign ${r.campaign}) sent; last good version ${r.fromVersion ?? "unknown"}`,
            by,
          );
          return;
        }
        case "revoke":
        case "reattest": {
          if (d.revoker === undefined) {
            this.#record(inc, action.type, "failed", "no identity service to revoke with", by);
            return;
          }
          if (action.type === "reattest" && d.readmitter === undefined) {
            this.#record(inc, action.type, "failed", "this store cannot re-admit devices", by);
            return;
          }
          if (action.type === "reattest")
            await d.readmitter?.require({
              device: inc.device,
              reason: "reattestation",
              incident: inc.id,
              since: now,
              tokenId: null,
            });
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

  /**
   * Re-provisioning with fresh keys. The device is held in quarantine (its control channel
   * only) at once; a one-time claim token bound to it is minted and delivered over the control
   * channel; only once the device acknowledges it is the device put on the re-admission list and
   * every certificate of it revoked (its session ends). A device that is offline gets the token
   * when it next connects. It then enrolls again with a NEW key pair and the token; enrollment
   * refuses any key it used before (ENROLLMENT_KEY_REUSED). The token never reaches the
   * timeline, the signals or the sinks (its id does).
   */
  async #reprovision(inc: Incident, action: Extract<PlaybookAction, { type: "reprovision" }>, by: string): Promise<void> {
    const d = this.#d;
    if (d.revoker === undefined || d.readmitter === undefined || d.reprovisionTokens === undefined) {
      this.#record(inc, "reprovision", "failed", "identity or enrollment cannot re-provision here", by);
      return;
    }
    const now = d.clock.now();
    inc.mitigation = {
      kind: "quarantine",
      tier: "quarantine",
      since: inc.mitigation?.since ?? now,
      until: null,
      releaseOn: "reattestation",
    };
    await d.sessions()?.applyTier(inc.device, "quarantine", `incident ${inc.id}: reprovision`);
    inc.awaitingReprovision = { tokenTtlMs: action.tokenTtlMs ?? 15 * 60_000, ackTimeoutMs: action.ackTimeoutMs ?? 3_000, by };
    this.#contained(inc, by);
    await this.#deliverReprovision(inc);
  }

  async #deliverReprovision(inc: Incident): Promise<void> {
    const d = this.#d;
    const pending = inc.awaitingReprovision;
    if (pending == null || d.revoker === undefined || d.readmitter === undefined || d.reprovisionTokens === undefined) return;
    const minted = await d.reprovisionTokens(inc.device, pending.tokenTtlMs, `incident:${inc.id}`);
    const control = d.control?.();
    let acknowledged = false;
    // A few tries: a device that just connected may not have subscribed its control channel yet.
    for (let attempt = 0; attempt < 3 && !acknowledged && control !== undefined; attempt++) {
      acknowledged = await control
        .deliver(
          inc.device,
          { type: "reprovision", ref: inc.id, token: minted.token, expiresAt: iso(minted.expiresAt) },
          Math.max(100, Math.floor(pending.ackTimeoutMs / 3)),
        )
        .catch(() => false);
    }
    if (!acknowledged) {
      this.#record(
        inc,
        "reprovision",
        "sent",
        `one-time token ${minted.tokenId} not acknowledged: held in quarantine, sent again when the device connects`,
        pending.by,
      );
      return;
    }
    await d.readmitter.require({
      device: inc.device,
      reason: "reprovision",
      incident: inc.id,
      since: d.clock.now(),
      tokenId: minted.tokenId,
    });
    const serials = await d.revoker.revokeDevice(inc.device, "keyCompromise", `incident:${inc.id}`);
    inc.awaitingReprovision = null;
    inc.mitigation = {
      kind: "revoke",
      tier: "quarantine",
      since: inc.mitigation?.since ?? d.clock.now(),
      until: null,
      releaseOn: "reattestation",
    };
    this.#record(
      inc,
      "reprovision",
      "done",
      `one-time token ${minted.tokenId} delivered and acknowledged over the control channel; revoked ${serials.length} certificate(s); re-admitted after enrolling a new key`,
      pending.by,
    );
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

  #record(inc: Incident, action: string, outcome: "done" | "failed" | "skipped" | "sent", detail: string, by: string): void {
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
        ...(typeof inc.drill === "string" ? { drill: inc.drill } : {}),
      },
      detail,
    };
    for (const sink of sinks) sink.send(event);
  }

  async #load(id: string): Promise<Incident> {
    // Several nodes: an operator's action works on the store's copy (another node may have changed it).
    if (this.#d.jobLock !== undefined) {
      const stored = await this.#d.repository.get(id);
      if (stored === undefined) throw new VigilError("INCIDENT_NOT_FOUND", `no incident ${id}`);
      if (isActive(stored.state)) this.#adopt(stored);
      return stored;
    }
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

/** An approval or a mitigation of `inc` whose time is up. */
function isDue(inc: Incident, now: Millis): boolean {
  return (
    (inc.approval !== null && inc.approval.expiresAt <= now) || (inc.mitigation?.until != null && inc.mitigation.until <= now)
  );
}
