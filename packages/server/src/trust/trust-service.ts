import { parseDeviceId, type Clock, type DeviceId, type Logger } from "../core/index.js";
import type { DeviceRecord, DeviceRepository } from "../identity/index.js";
import type { Profile, Tier } from "../policy/index.js";
import type { SignalBus, SignalMap } from "../signals/index.js";
import {
  DEFAULT_MODEL_PARAMS,
  applyEvidence,
  assess,
  emptyTrustState,
  tierRank,
  type ModelParams,
  type TrustAssessment,
  type TrustEvent,
  type TrustState,
} from "./model.js";
import type { TierEnforcer, TrustHistoryEntry, TrustRecord, TrustRepository } from "./ports.js";
import type { TrustConfig } from "./trust-config.js";
import { VERTICALS, verticalOfProfile, type Vertical } from "./verticals.js";

export interface TrustServiceDeps {
  readonly repository: TrustRepository;
  readonly devices: DeviceRepository;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: TrustConfig;
  /** The profile a device's record names (for its vertical). */
  readonly profiles: (profileId: string) => Profile | undefined;
  /** Where tier changes go at once (the gateway); late-bound because the gateway starts after trust. */
  readonly enforcer: () => TierEnforcer | undefined;
  /**
   * Several nodes (docs/scale.md "Jobs that run once per cluster"): `observe` credits clean time
   * to the devices holding a session on this node (a device is connected to one node, so it is
   * credited once), and announces a change it finds (history, `trust.changed`, the tier
   * applied) for those devices and, on the holder of this lease only, for the devices holding
   * none here; the other nodes re-assess those in memory (the tier at CONNECT stays right). A
   * score changed by time alone is not written (evidence and credit are), so no node writes its
   * stale copy over the session node's. Absent: one node, every change is announced and written.
   */
  readonly observeLease?: ObserveLease | undefined;
}

/** The part of the cluster's held lease `observe` needs (cluster/leader-lease.ts). */
export interface ObserveLease {
  readonly held: boolean;
  start(onChange: (held: boolean) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/** What the API and CLI show for one device. */
export interface TrustExplanation extends TrustAssessment {
  readonly device: string;
  readonly thresholds: ModelParams["thresholds"];
  readonly updatedAt: number;
  /** Whether the gateway holds a live session of the device. */
  readonly connected: boolean;
}

export interface TrustDistribution {
  readonly devices: number;
  readonly tiers: Readonly<Record<Tier, number>>;
  /** The lowest-scored devices (at most `limit`), lowest first. */
  readonly lowest: readonly { readonly device: string; readonly score: number; readonly tier: Tier; readonly vertical: string }[];
}

interface Entry {
  state: TrustState;
  profile: string | null;
  score: number;
  tier: Tier;
  vertical: string;
  /** When the current clean observation window began (a live session), or null. */
  observedFrom: number | null;
  /** Live sessions the gateway reported (a takeover briefly makes two). */
  sessions: number;
  /** Whether trust.changed has announced the device's first tier. */
  announced: boolean;
  /** The score of the last history entry. */
  logged: number;
}

const FLUSH_EVERY_MS = 1000;
/** A history entry is written on a tier change or a score change of at least this many points. */
const HISTORY_MIN_DELTA = 1;
const SCAN_PAGE = 500;
/** Session ends that say nothing bad about the device (its time connected was clean). */
const CLEAN_ENDS: ReadonlySet<string> = new Set(["client_disconnected", "connection_lost"]);
const MAX_SCAN_PAGES = 10_000;

/**
 * Keeps every enrolled device's trust score from the signals (enrollment, certificates,
 * gateway denials, findings, vulnerabilities), persists it with a bounded history, answers
 * the gateway's `TierSource` from memory (no I/O on connect), and on a tier change emits
 * `trust.changed` and applies the new tier to the live session at once (`TierEnforcer`).
 *
 * Each signal costs O(1): the evidence is folded into the device's state and the state
 * re-assessed. Time-dependent factors (certificate expiry) and clean observed time are
 * handled by `observe()`, every `observeEverySeconds`, in one batch off the message path.
 */
export class TrustService {
  readonly #d: TrustServiceDeps;
  readonly #params: ModelParams;
  readonly #entries = new Map<DeviceId, Entry>();
  readonly #dirty = new Set<DeviceId>();
  readonly #offs: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #writes: Promise<void> = Promise.resolve();

  constructor(deps: TrustServiceDeps) {
    this.#d = deps;
    const c = deps.config;
    this.#params = {
      ...DEFAULT_MODEL_PARAMS,
      thresholds: c.thresholds,
      recoveryPointsPerCleanDay: c.recoveryPointsPerCleanDay,
      restrictDebt: c.restrictDebt,
      quarantineDebt: c.quarantineDebt,
      exfiltrationHoldMs: c.exfiltrationHoldHours * 3_600_000,
    };
  }

  get params(): ModelParams {
    return this.#params;
  }

  async start(): Promise<void> {
    for (const record of await this.#d.repository.loadAll()) {
      this.#entries.set(record.device, {
        state: record.state,
        profile: null,
        score: record.score,
        tier: record.tier,
        vertical: record.vertical,
        observedFrom: null,
        sessions: 0,
        announced: true,
        logged: record.score,
      });
    }
    await this.#seedEnrolledDevices();
    this.#subscribe();
    await this.#d.observeLease?.start(async () => undefined);
    // Rescore everything once: thresholds or the vertical may have changed since the last run.
    this.observe();
    this.#timer = setInterval(() => this.observe(), this.#d.config.observeEverySeconds * 1000);
    this.#timer.unref();
    this.#flushTimer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
    this.#flushTimer.unref();
  }

  async stop(): Promise<void> {
    for (const off of this.#offs.splice(0)) off();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#flushTimer !== undefined) clearInterval(this.#flushTimer);
    await this.flush();
    await this.#d.observeLease?.stop();
  }

  /** Open vulnerabilities of a device (assessment's findings not yet resolved); 0 when unknown. */
  openVulnerabilities(device: string): number {
    const state = this.#entries.get(device as DeviceId)?.state;
    return state === undefined ? 0 : Object.keys(state.vulnerabilities).length + (state.vulnerabilityOverflow > 0 ? 1 : 0);
  }

  /** TierSource: the tier of a device at CONNECT, from memory. */
  tierOf(device: DeviceRecord): Tier {
    if (device.state === "quarantined" || device.state === "revoked") return "quarantine";
    let entry = this.#entries.get(device.id);
    if (entry === undefined) entry = this.#seed(device);
    else if (entry.profile === null && device.profile !== null) {
      entry.profile = device.profile;
      this.#reassess(device.id, entry, null);
    }
    return entry.tier;
  }

  /** The score, tier and explanation of one device, or undefined when it has none. */
  explain(device: string): TrustExplanation | undefined {
    const id = parseDeviceId(device);
    const entry = id === undefined ? undefined : this.#entries.get(id);
    if (entry === undefined) return undefined;
    const now = this.#d.clock.now();
    return {
      device: device,
      thresholds: this.#params.thresholds,
      updatedAt: now,
      connected: entry.observedFrom !== null,
      ...assess(entry.state, now, this.#verticalOf(entry), this.#params),
    };
  }

  async history(device: string, limit = 50): Promise<TrustHistoryEntry[]> {
    const id = parseDeviceId(device);
    if (id === undefined) return [];
    await this.#writes;
    return this.#d.repository.history(id, limit);
  }

  /** Devices per tier and the lowest-scored ones; `include` narrows to some devices (an operator's sites). */
  distribution(limit = 20, include?: (device: string) => boolean): TrustDistribution {
    const tiers: Record<Tier, number> = { quarantine: 0, restricted: 0, standard: 0, trusted: 0 };
    const lowest: { device: string; score: number; tier: Tier; vertical: string }[] = [];
    let devices = 0;
    for (const [device, e] of this.#entries) {
      if (include !== undefined && !include(device)) continue;
      devices++;
      tiers[e.tier]++;
      if (limit <= 0) continue;
      const worse = lowest.length < limit || e.score < lowest[lowest.length - 1]!.score;
      if (!worse) continue;
      lowest.push({ device, score: e.score, tier: e.tier, vertical: e.vertical });
      lowest.sort((a, b) => a.score - b.score || tierRank(a.tier) - tierRank(b.tier) || a.device.localeCompare(b.device));
      if (lowest.length > limit) lowest.pop();
    }
    return { devices, tiers, lowest };
  }

  /**
   * Credits connected devices with the clean time observed since the last observation (at
   * most `maxCreditPerObservationSeconds` each: time nobody watched is not evidence) and
   * re-assesses every device (certificates age). Called on a timer; tests call it directly.
   */
  observe(): void {
    const now = this.#d.clock.now();
    const cap = this.#d.config.maxCreditPerObservationSeconds * 1000;
    const lease = this.#d.observeLease;
    // A device's clean time is credited only where its session is (one node: it is connected once).
    const announceUnobserved = lease === undefined || lease.held;
    for (const [id, entry] of this.#entries) {
      if (entry.observedFrom !== null && now > entry.observedFrom) {
        const ms = Math.min(cap, now - entry.observedFrom);
        entry.observedFrom = now;
        entry.state = applyEvidence(entry.state, { kind: "clean", at: now, ms }, this.#params);
        this.#dirty.add(id);
      }
      // Several nodes: time alone changes no stored record (each node re-assesses from the same
      // record; the score is a cache), so a node's stale copy never overwrites another's evidence.
      this.#reassess(id, entry, null, {
        announce: announceUnobserved || entry.sessions > 0,
        write: lease === undefined,
      });
    }
  }

  /** Writes every changed score (the timer does it every second; stop() does it last). */
  flush(): Promise<void> {
    if (this.#dirty.size === 0) return this.#writes;
    const now = this.#d.clock.now();
    const records: TrustRecord[] = [];
    for (const id of this.#dirty) {
      const e = this.#entries.get(id);
      if (e !== undefined)
        records.push({ device: id, score: e.score, tier: e.tier, vertical: e.vertical, state: e.state, updatedAt: now });
    }
    this.#dirty.clear();
    return this.#write(() => this.#d.repository.saveMany(records));
  }

  #write(task: () => Promise<void>): Promise<void> {
    this.#writes = this.#writes.then(task).catch((error: unknown) => this.#d.log.error({ err: error }, "trust write failed"));
    return this.#writes;
  }

  async #seedEnrolledDevices(): Promise<void> {
    let after: string | undefined;
    for (let page = 0; page < MAX_SCAN_PAGES; page++) {
      const { items, next } = await this.#d.devices.list({ limit: SCAN_PAGE, after });
      for (const d of items) if (d.enrolledAt !== null && d.state !== "revoked" && !this.#entries.has(d.id)) this.#seed(d);
      if (next === null) return;
      after = next;
    }
  }

  /** A device Vigil enrolled before trust knew it: scored from its record's posture. */
  #seed(device: DeviceRecord): Entry {
    let state = emptyTrustState();
    if (device.attestationMethod !== null) {
      state = applyEvidence(state, {
        kind: "attested",
        at: device.enrolledAt ?? device.createdAt,
        method: device.attestationMethod,
        strength: device.attestationStrength ?? 0,
        keyType: device.keyType,
        firmwareVersion: device.firmwareVersion,
        serial: null,
        reattestation: false,
      });
    }
    const entry: Entry = {
      state,
      profile: device.profile,
      score: 0,
      tier: "quarantine",
      vertical: "default",
      observedFrom: null,
      sessions: 0,
      announced: false,
      logged: 0,
    };
    this.#entries.set(device.id, entry);
    this.#reassess(device.id, entry, null);
    return entry;
  }

  /** A device Vigil is enrolling right now (its certificate is being issued). */
  #create(id: DeviceId): Entry {
    const entry: Entry = {
      state: emptyTrustState(),
      profile: null,
      score: 0,
      tier: "quarantine",
      vertical: "default",
      observedFrom: null,
      sessions: 0,
      announced: false,
      logged: 0,
    };
    this.#entries.set(id, entry);
    this.#reassess(id, entry, null);
    return entry;
  }

  #verticalOf(entry: Entry): Vertical {
    const forced = this.#d.config.vertical;
    if (forced !== "auto") return VERTICALS[forced];
    const profile = entry.profile === null ? undefined : this.#d.profiles(entry.profile);
    return profile === undefined ? VERTICALS.default : verticalOfProfile(profile.vertical);
  }

  /** Folds evidence into a known device (unknown devices are ignored: ids in signals are claims). */
  #apply(device: string, event: TrustEvent, cause: string, create = false): void {
    const id = parseDeviceId(device);
    if (id === undefined) return;
    const entry = this.#entries.get(id) ?? (create ? this.#create(id) : undefined);
    if (entry === undefined) return;
    // A bad fact ends the clean observation window: the time up to it is not credited.
    if (entry.observedFrom !== null && (event.kind === "finding" || event.kind === "conduct")) entry.observedFrom = event.at;
    entry.state = applyEvidence(entry.state, event, this.#params);
    this.#dirty.add(id);
    this.#reassess(id, entry, cause);
  }

  /**
   * `announce: false`: memory only (another node announces the change; see `observeLease`);
   * `write: false`: the changed score is not written (only evidence is, several nodes).
   */
  #reassess(id: DeviceId, entry: Entry, cause: string | null, how = { announce: true, write: true }): void {
    const vertical = this.#verticalOf(entry);
    const a = assess(entry.state, this.#d.clock.now(), vertical, this.#params);
    const from = entry.tier;
    const changed = a.score !== entry.score || a.tier !== from || vertical.id !== entry.vertical;
    entry.score = a.score;
    entry.tier = a.tier;
    entry.vertical = vertical.id;
    if (!how.announce) return;
    if (changed && how.write) this.#dirty.add(id);
    // A device is announced (history, trust.changed) once it has attested; before that (its
    // certificate is issued a moment before enrollment completes) it is quarantine, quietly.
    if (!entry.announced && entry.state.attestation === null) return;
    const initial = !entry.announced;
    entry.announced = true;
    const changedTier = initial || a.tier !== from;
    if (!changedTier && Math.abs(a.score - entry.logged) < HISTORY_MIN_DELTA) return;
    entry.logged = a.score;
    const reasons = reasonsOf(a, cause);
    const now = this.#d.clock.now();
    void this.#write(() =>
      this.#d.repository.appendHistory(
        { device: id, at: now, score: a.score, tier: a.tier, from: initial ? null : from, reasons },
        this.#d.config.historyLimit,
      ),
    );
    if (!changedTier) return;
    this.#d.bus.emit("trust.changed", {
      device: id,
      from: initial ? null : from,
      to: a.tier,
      score: a.score,
      tier: a.tier,
      reasons,
    });
    void this.flush();
    const enforcer = this.#d.enforcer();
    if (initial && entry.sessions === 0) return;
    enforcer
      ?.applyTier(id, a.tier, `trust ${from} -> ${a.tier}: ${reasons[0] ?? "score"}`)
      .catch((error: unknown) => this.#d.log.error({ err: error, device: id }, "applying a trust tier failed"));
  }

  #subscribe(): void {
    const bus = this.#d.bus;
    const now = () => this.#d.clock.now();
    const on = <K extends keyof SignalMap>(name: K, handler: (p: SignalMap[K]) => void) => this.#offs.push(bus.on(name, handler));

    on("identity.issued", (p) => {
      const at = now();
      this.#apply(
        p.device,
        { kind: "certificate", at, serial: p.serial, notBefore: at, notAfter: Date.parse(p.notAfter) },
        `certificate ${p.serial} issued`,
        true,
      );
    });
    on("enrollment.completed", (p) => {
      const id = parseDeviceId(p.device);
      if (id === undefined) return;
      const entry = this.#entries.get(id) ?? this.#create(id);
      if (p.profile !== null) entry.profile = p.profile;
      const reattestation = entry.state.attestation !== null;
      this.#apply(
        p.device,
        {
          kind: "attested",
          at: now(),
          method: p.method,
          strength: p.strength,
          keyType: p.keyType,
          firmwareVersion: p.firmwareVersion,
          serial: p.serial,
          reattestation,
        },
        `${reattestation ? "re-attested" : "enrolled"} by ${p.method} (strength ${p.strength})`,
      );
    });
    on("identity.revoked", (p) =>
      this.#apply(p.device, { kind: "revoked", at: now(), reason: p.reason, serials: p.serials }, `revoked: ${p.reason}`),
    );
    on("vulnerability.found", (p) =>
      this.#apply(
        p.device,
        { kind: "vulnerability", at: now(), advisoryId: p.advisoryId, severity: p.severity, cvss: p.cvss },
        `vulnerability ${p.advisoryId} (${p.severity})`,
      ),
    );
    on("vulnerability.resolved", (p) =>
      this.#apply(p.device, { kind: "vulnerability-resolved", at: now(), advisoryId: p.advisoryId }, `${p.advisoryId} resolved`),
    );
    on("finding.raised", (p) =>
      this.#apply(
        p.device,
        { kind: "finding", at: now(), id: p.id, rule: p.rule, severity: p.severity, category: p.category },
        `finding ${p.id}: ${p.rule} (${p.severity})`,
      ),
    );
    on("identity.cloned_suspected", (p) =>
      this.#apply(
        p.device,
        {
          kind: "finding",
          at: now(),
          id: `cloned:${p.serials.join(",")}`,
          rule: "cloned-identity",
          severity: p.sameHost ? "low" : "high",
          category: "identity",
        },
        `certificate used from ${p.remotes.length} places`,
      ),
    );
    on("gateway.denied", (p) =>
      this.#apply(
        p.device,
        { kind: "conduct", at: now(), conduct: "denied", summary: `${p.action} ${p.topic.slice(0, 120)} denied (${p.reason})` },
        `${p.action} denied (${p.reason})`,
      ),
    );
    on("gateway.throttled", (p) =>
      this.#apply(
        p.device,
        { kind: "conduct", at: now(), conduct: "throttled", summary: `${p.dropped} messages over ${p.ratePerSecond}/s dropped` },
        "throttled",
      ),
    );
    on("gateway.connect_refused", (p) => {
      if (p.device !== null) {
        this.#apply(
          p.device,
          { kind: "conduct", at: now(), conduct: "connect-refused", summary: `connection refused (${p.reason})` },
          `connection refused (${p.reason})`,
        );
      }
    });
    on("enrollment.failed", (p) => {
      if (p.device !== null) {
        this.#apply(
          p.device,
          { kind: "conduct", at: now(), conduct: "enrollment-failed", summary: `enrollment refused (${p.code})` },
          `enrollment refused (${p.code})`,
        );
      }
    });
    on("enrollment.token_replayed", (p) => {
      if (p.device !== null) {
        this.#apply(
          p.device,
          { kind: "conduct", at: now(), conduct: "token-replayed", summary: `claim token ${p.tokenId} replayed` },
          "claim token replayed",
        );
      }
    });
    on("gateway.connected", (p) => {
      const id = parseDeviceId(p.device);
      const entry = id === undefined ? undefined : this.#entries.get(id);
      if (entry === undefined || id === undefined) return;
      entry.sessions++;
      if (entry.observedFrom === null) entry.observedFrom = now();
      if (p.profile !== null && entry.profile !== p.profile) {
        entry.profile = p.profile;
        this.#reassess(id, entry, null);
      }
      // The tier may have changed between the gateway's tierOf and the session going live.
      if (p.tier !== entry.tier) {
        void this.#d
          .enforcer()
          ?.applyTier(id, entry.tier, `trust tier ${entry.tier} at connect`)
          .catch((error: unknown) => this.#d.log.error({ err: error, device: id }, "applying a trust tier failed"));
      }
    });
    on("gateway.disconnected", (p) => {
      const id = parseDeviceId(p.device);
      const entry = id === undefined ? undefined : this.#entries.get(id);
      if (entry === undefined || id === undefined || entry.observedFrom === null) return;
      const at = now();
      const ms = Math.min(this.#d.config.maxCreditPerObservationSeconds * 1000, Math.max(0, at - entry.observedFrom));
      entry.sessions = Math.max(0, entry.sessions - 1);
      entry.observedFrom = entry.sessions > 0 ? at : null;
      // A session ended by a violation is not clean; one the device closed or lost is.
      if (ms > 0 && CLEAN_ENDS.has(p.reason)) {
        entry.state = applyEvidence(entry.state, { kind: "clean", at, ms }, this.#params);
        this.#dirty.add(id);
        this.#reassess(id, entry, null);
      }
    });
  }
}

function reasonsOf(a: TrustAssessment, cause: string | null): string[] {
  const reasons: string[] = [];
  if (cause !== null) reasons.push(cause);
  for (const c of a.ceilings) reasons.push(`held at ${c.tier}: ${c.reason}`);
  if (a.quarantineAwaitsApproval) reasons.push(`quarantine awaits operator approval (${a.vertical} vertical)`);
  const worst = [...a.factors].sort((x, y) => y.lost - x.lost).slice(0, 2);
  for (const f of worst) if (f.lost > 0) reasons.push(`${f.id} -${f.lost} (${f.detail})`);
  reasons.push(`score ${a.score} -> ${a.scoreTier}`);
  return reasons;
}
