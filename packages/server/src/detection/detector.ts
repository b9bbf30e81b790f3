import { performance } from "node:perf_hooks";
import { rulesFor, type DetectionConfig, type RuleSettings } from "./detection-config.js";
import { DeviceState, FEATURE_COUNT, PeerGroup, RULE_INDEX, hashString, type RuleId } from "./device-state.js";
import { Decayed } from "./decayed.js";
import { FEATURES, type RobustBaseline } from "./robust-baseline.js";
import { hourOf } from "./hour-profile.js";
import type { Profile } from "../policy/index.js";
import { DriftScratch, driftEvidence, observeFields, scanNumbers, subtopicSeed, type DriftReading } from "./payload-drift.js";
import { hostOfEndpoint } from "./network-attribution.js";

/** Port: what detection asks of the gateway when a rule fires (implemented by `Gateway`). */
export interface DetectionEnforcer {
  disconnect(deviceId: string): boolean;
  quarantine(deviceId: string, reason: string): Promise<number>;
}

export type Severity = "low" | "medium" | "high" | "critical";
export type Category = "exfiltration" | "flood" | "scanning" | "brute-force" | "identity" | "anomaly" | "policy" | "other";
export type Action = "none" | "refuse" | "disconnect" | "quarantine";

/** A finding as detection holds it (the `finding.raised` signal carries it with the evidence as JSON). */
export interface Finding {
  readonly id: string;
  readonly device: string;
  readonly rule: RuleId;
  readonly severity: Severity;
  readonly category: Category;
  readonly confidence: number;
  readonly at: number;
  readonly action: Action;
  /** From the offending event's arrival at the detector to the enforcement call returning; null: no action. */
  readonly detectToBlockMs: number | null;
  readonly evidence: Readonly<Record<string, unknown>>;
}

interface RuleSpec {
  readonly severity: Severity;
  readonly category: Category;
  readonly action: Action;
}

/** Each rule's severity, category and default response (docs/detection.md). */
export const RULE_SPECS: Readonly<Record<RuleId, RuleSpec>> = Object.freeze({
  brute_force: { severity: "high", category: "brute-force", action: "none" },
  reconnect_flapping: { severity: "low", category: "other", action: "none" },
  topic_reconnaissance: { severity: "medium", category: "scanning", action: "quarantine" },
  flood: { severity: "medium", category: "flood", action: "disconnect" },
  exfiltration: { severity: "high", category: "exfiltration", action: "quarantine" },
  identity_cloned: { severity: "critical", category: "identity", action: "disconnect" },
  lateral_movement: { severity: "high", category: "scanning", action: "quarantine" },
  repeated_denials: { severity: "medium", category: "policy", action: "none" },
  behaviour_anomaly: { severity: "medium", category: "anomaly", action: "none" },
  network_scan: { severity: "high", category: "scanning", action: "quarantine" },
});

/** Connect refusals that count as failed authentication (not server errors or lost connections). */
const AUTH_FAILURES = new Set([
  "no_certificate",
  "certificate_unknown",
  "certificate_revoked",
  "certificate_expired",
  "client_id_mismatch",
  "device_unknown",
  "device_revoked",
  "tls_handshake_failed",
]);

export interface DetectorDeps {
  readonly config: DetectionConfig;
  readonly emit: (finding: Finding) => void;
  readonly enforcer?: () => DetectionEnforcer | undefined;
  /** Schedules the model's batch off the message path (default `setImmediate`). */
  readonly schedule?: (run: () => void) => void;
  /** Ids of findings (default: a per-process prefix and a counter). */
  readonly newId?: () => string;
  readonly onError?: (error: unknown) => void;
  /**
   * A profile's declared envelope (its rate limit and largest payload), the prior a new
   * profile's windows are judged against before any baseline is warm. Absent: no envelope.
   */
  readonly envelope?: (profile: string) => ProfileEnvelope | undefined;
}

/** What the anomaly model reads of a profile (policy/profile.ts). */
export type ProfileEnvelope = Pick<Profile, "maxMessagesPerSecond" | "burst" | "maxPayloadBytes">;

class SourceState {
  readonly refusals: Decayed;
  lastFired = Number.NEGATIVE_INFINITY;
  lastSeen: number;
  constructor(windowMs: number, now: number) {
    this.refusals = new Decayed(windowMs);
    this.lastSeen = now;
  }
}

const MAX_FINDINGS_KEPT = 1000;
const MAX_WINDOW_FACTOR = 6;
const EXFIL_BAND = 3;
/** A window over the declared envelope by this factor is anomalous (the gateway's rate limit should have stopped it). */
const ENVELOPE_MARGIN = 1.5;
/** A run of anomalous windows becomes the device's new normal after this many (a lasting change of behaviour). */
const ACCEPT_AFTER = 30;

/**
 * The streaming detector (DESIGN.md "Detect", "Block & respond"): per-device features kept
 * incrementally from the gateway's per-message observer and its signals, rules evaluated on
 * the event that completes them, and a robust per-device / per-peer-group baseline (the
 * anomaly model, docs/adr/0004) learnt from closed feature windows in batches off the
 * message path.
 *
 * `observe()` is the hot path: one Map lookup, a few decayed sums, a topic hash; no
 * allocation, no I/O, O(1) in fleet size. It returns false to refuse the message.
 */
export class Detector {
  readonly #config: DetectionConfig;
  readonly #deps: DetectorDeps;
  readonly #devices = new Map<string, DeviceState>();
  readonly #peers = new Map<string, PeerGroup>();
  readonly #sources = new Map<string, SourceState>();
  readonly #findings: Finding[] = [];
  readonly #rulesByProfile = new Map<string, RuleSettings>();
  // The queue of closed windows (a ring): device, end time, features.
  readonly #qStates: (DeviceState | undefined)[];
  readonly #qAt: Float64Array;
  readonly #qFeatures: Float64Array;
  #qHead = 0;
  #qCount = 0;
  #scheduled = false;
  readonly #x = new Float64Array(FEATURE_COUNT);
  readonly #score = new Float64Array(2);
  readonly #scratch = new DriftScratch();
  readonly #reading: DriftReading = { noise: 0, up: 0, down: 0, fields: 0 };
  #seq = 0;
  #raised = 0;
  readonly #prefix = `det-${Date.now().toString(36)}`;
  /** Counters for benchmarks and health. */
  readonly counters = { messages: 0, refused: 0, windows: 0, batches: 0, syncDrains: 0, evicted: 0, payloads: 0, unlearnt: 0 };

  constructor(deps: DetectorDeps) {
    this.#deps = deps;
    this.#config = deps.config;
    this.#qStates = new Array<DeviceState | undefined>(deps.config.queueCapacity).fill(undefined);
    this.#qAt = new Float64Array(deps.config.queueCapacity);
    this.#qFeatures = new Float64Array(deps.config.queueCapacity * FEATURE_COUNT);
  }

  get deviceCount(): number {
    return this.#devices.size;
  }

  get queued(): number {
    return this.#qCount;
  }

  /** Recent findings, oldest first (bounded). */
  findings(): readonly Finding[] {
    return this.#findings;
  }

  /** The detector's view of one device (tests, explanations). */
  stateOf(device: string): DeviceState | undefined {
    return this.#devices.get(device);
  }

  peerOf(profile: string): PeerGroup | undefined {
    return this.#peers.get(profile);
  }

  // --- the message path -------------------------------------------------------------------

  /**
   * Inline observer of every PUBLISH the gateway's policy allowed: false refuses it. With the
   * `payload`, its numeric fields feed the drift test (payload-drift.ts), which may refuse it.
   */
  observe(device: string, topic: string, bytes: number, now: number, payload?: Uint8Array): boolean {
    const t0 = performance.now();
    this.counters.messages++;
    const s = this.#devices.get(device) ?? this.#create(device, null, now);
    s.lastSeen = now;
    if (s.blocked) {
      // The control channel stays open (acks, re-attestation); everything else is refused.
      if (topic.startsWith("vigil/")) return true;
      this.counters.refused++;
      return false;
    }
    if (s.winStart < 0) s.winStart = now;
    else if (now - s.winStart >= this.#config.windowMs) this.#closeWindow(s, now);
    s.winMsgs++;
    s.winBytes += bytes;
    s.winSizeSq += bytes * bytes;
    if (s.lastMsgAt >= 0) {
      const gap = now - s.lastMsgAt;
      s.winGapSum += gap;
      s.winGapSq += gap * gap;
      s.winGaps++;
    }
    s.lastMsgAt = now;
    if (s.noteTopic(hashString(topic))) s.winNewTopics++;
    s.msgs[0].add(1, now);
    s.msgs[1].add(1, now);
    s.msgs[2].add(1, now);
    s.bytes[0].add(bytes, now);
    s.bytes[1].add(bytes, now);
    s.bytes[2].add(bytes, now);
    const sum = s.exfilBytes.add(bytes, now);
    const rate = (sum * 1000) / s.exfilBytes.tau;
    if (rate > s.exfilLimit && rate > s.rules.exfiltration.minBytesPerSecond) {
      s.blocked = true;
      this.counters.refused++;
      this.#fire(s, "exfiltration", now, t0, rate / s.exfilLimit, () => ({
        topic: topic.slice(0, 200),
        bytesPerSecond: Math.round(rate),
        limitBytesPerSecond: Math.round(s.exfilLimit),
        baseline: s.baseline.n >= this.#config.warmupWindows ? "device" : "peers",
        baselineBytesPerSecond: Math.round(this.#reference(s)?.mean[1] ?? 0),
        windowMs: s.rules.exfiltration.windowMs,
        refusedMessageBytes: bytes,
      }));
      return false;
    }
    if (payload !== undefined && this.#config.drift.enabled && !topic.startsWith("vigil/"))
      return this.#drift(s, topic, payload, now, t0);
    return true;
  }

  /** The payload drift test on one message (inline: a bounded scan and a few float updates per field). */
  #drift(s: DeviceState, topic: string, payload: Uint8Array, now: number, t0: number): boolean {
    if (scanNumbers(payload, subtopicSeed(topic), this.#scratch) === 0) return true;
    this.counters.payloads++;
    const drift = this.#config.drift;
    const r = this.#reading;
    observeFields(s.drift, s.peer.fields, this.#scratch, payload, topic, drift, r, now, s.peer.devices);
    const statistic =
      r.noise >= drift.noiseH ? "noise" : r.up >= drift.levelH ? "level_up" : r.down >= drift.levelH ? "level_down" : null;
    if (statistic === null) return true;
    const cusum = statistic === "noise" ? r.noise : statistic === "level_up" ? r.up : r.down;
    const threshold = statistic === "noise" ? drift.noiseH : drift.levelH;
    const own = s.drift.messages;
    s.drift.reset();
    const before = this.#raised;
    this.#fire(
      s,
      "behaviour_anomaly",
      now,
      t0,
      cusum / threshold,
      () => ({
        model: "payload_drift",
        statistic,
        cusum: round(cusum),
        threshold,
        baseline: own >= 24 ? "device" : "peers",
        topic: topic.slice(0, 200),
        deviations: driftEvidence(s.drift),
      }),
      { action: drift.action },
    );
    if (drift.action === "none" || this.#raised === before) return true;
    s.blocked = true;
    this.counters.refused++;
    return false;
  }

  // --- gateway signals --------------------------------------------------------------------

  connected(device: string, profile: string | null, remote: string, now: number): void {
    const t0 = performance.now();
    let s = this.#devices.get(device);
    if (s === undefined) s = this.#create(device, profile, now);
    else if (s.profile !== profile) this.#assign(s, profile);
    s.lastSeen = now;
    s.connected = true;
    s.blocked = false;
    s.drift.newSession();
    s.winSessions++;
    const n = s.connects.add(1, now);
    if (reached(n, s.rules.flapping.count))
      this.#fire(s, "reconnect_flapping", now, t0, n / s.rules.flapping.count, () => ({
        sessions: round(n),
        windowMs: s.rules.flapping.windowMs,
        remote,
      }));
  }

  disconnected(device: string, now: number): void {
    const s = this.#devices.get(device);
    if (s === undefined) return;
    s.lastSeen = now;
    s.connected = false;
    s.blocked = false;
  }

  refused(device: string | null, remote: string, reason: string, now: number): void {
    const t0 = performance.now();
    const base = reason.split(" ")[0] ?? reason;
    if (!AUTH_FAILURES.has(base) && !base.startsWith("source_rate_exceeded")) return;
    const host = hostOfEndpoint(remote);
    let src = this.#sources.get(host);
    if (src === undefined) {
      if (this.#sources.size >= this.#config.maxDevices) this.#evictOldest(this.#sources);
      src = new SourceState(this.#config.rules.bruteForce.windowMs, now);
      this.#sources.set(host, src);
    }
    src.lastSeen = now;
    const bySource = src.refusals.add(1, now);
    let byDevice = 0;
    let s: DeviceState | undefined;
    if (device !== null) {
      s = this.#devices.get(device) ?? this.#create(device, null, now);
      byDevice = s.refusals.add(1, now);
    }
    const threshold = (s?.rules ?? this.#config.rules).bruteForce.count;
    if (s !== undefined && reached(byDevice, threshold)) {
      this.#fire(s, "brute_force", now, t0, byDevice / threshold, () => ({
        refusals: round(byDevice),
        lastReason: reason,
        source: host,
        windowMs: s.rules.bruteForce.windowMs,
      }));
    } else if (reached(bySource, threshold) && now - src.lastFired >= this.#config.dedupMs) {
      src.lastFired = now;
      this.#raise(`source:${host}`, "brute_force", now, t0, bySource / threshold, "none", {
        refusals: round(bySource),
        lastReason: reason,
        source: host,
        identity: device,
        windowMs: this.#config.rules.bruteForce.windowMs,
      });
    }
  }

  denied(device: string, action: string, topic: string, reason: string, now: number): void {
    const t0 = performance.now();
    const s = this.#devices.get(device) ?? this.#create(device, null, now);
    s.lastSeen = now;
    s.winDenials++;
    const denials = s.denials.add(1, now);
    if (reason === "cross_device_topic") {
      const n = s.lateral.add(1, now);
      if (reached(n, s.rules.lateral.count))
        this.#fire(s, "lateral_movement", now, t0, 1 + n / s.rules.lateral.count, () => ({
          packet: action,
          topic,
          attempts: round(n),
          windowMs: s.rules.lateral.windowMs,
        }));
    } else if (action === "subscribe" || reason === "topic_not_allowed" || reason === "sys_topic") {
      if (s.noteProbe(hashString(topic), now)) {
        const n = s.recon.add(1, now);
        if (reached(n, s.rules.recon.count))
          this.#fire(s, "topic_reconnaissance", now, t0, n / s.rules.recon.count, () => ({
            packet: action,
            lastTopic: topic,
            distinctProbes: s.probedCount,
            windowMs: s.rules.recon.windowMs,
          }));
      }
    }
    if (reached(denials, s.rules.denials.count))
      this.#fire(s, "repeated_denials", now, t0, denials / s.rules.denials.count, () => ({
        denials: round(denials),
        lastReason: reason,
        lastTopic: topic,
        windowMs: s.rules.denials.windowMs,
      }));
  }

  throttled(device: string, topic: string, dropped: number, now: number): void {
    const t0 = performance.now();
    const s = this.#devices.get(device) ?? this.#create(device, null, now);
    s.lastSeen = now;
    const n = s.dropped.add(dropped, now);
    if (reached(n, s.rules.flood.dropped))
      this.#fire(s, "flood", now, t0, n / s.rules.flood.dropped, () => ({
        dropped: round(n),
        topic,
        windowMs: s.rules.flood.windowMs,
      }));
  }

  cloned(device: string, remotes: readonly string[], sameHost: boolean, now: number): void {
    const t0 = performance.now();
    const s = this.#devices.get(device) ?? this.#create(device, null, now);
    s.lastSeen = now;
    // Two hosts at once is strong evidence; the same host reconnecting before its old
    // session timed out is common (NAT, a quick reboot), so it is only a hint.
    this.#fire(s, "identity_cloned", now, t0, sameHost ? 1.2 : 10, () => ({ remotes: [...remotes], sameHost }), {
      severity: sameHost ? "low" : "critical",
      action: sameHost ? "none" : "disconnect",
    });
  }

  /**
   * Packet analysis saw this device scan the network (see network-attribution.ts): the
   * evidence names the address, the destinations and ports. Quarantined by default: a
   * device scanning for telnet is infected (Mirai), whatever its MQTT traffic looks like.
   */
  networkScan(device: string, evidence: Record<string, unknown>, now: number): void {
    const t0 = performance.now();
    const s = this.#devices.get(device) ?? this.#create(device, null, now);
    this.#fire(s, "network_scan", now, t0, 10, () => evidence);
  }

  // --- the model, off the message path ----------------------------------------------------

  /** Runs the model on every queued window now (the batch the scheduler would run). */
  flush(): void {
    this.#scheduled = false;
    if (this.#qCount === 0) return;
    this.counters.batches++;
    const cap = this.#qStates.length;
    while (this.#qCount > 0) {
      const slot = this.#qHead;
      const s = this.#qStates[slot] as DeviceState;
      this.#qStates[slot] = undefined;
      for (let i = 0; i < FEATURE_COUNT; i++) this.#x[i] = this.#qFeatures[slot * FEATURE_COUNT + i] as number;
      const at = this.#qAt[slot] as number;
      this.#qHead = (slot + 1) % cap;
      this.#qCount--;
      try {
        this.#learn(s, at);
      } catch (error) {
        this.#deps.onError?.(error);
      }
    }
  }

  /** Drops the state of devices and sources unseen for `idleEvictMs` (a timer calls it). */
  sweep(now: number): number {
    const idle = this.#config.idleEvictMs;
    let evicted = 0;
    for (const [id, s] of this.#devices) {
      if (!s.connected && now - s.lastSeen > idle) {
        this.#devices.delete(id);
        s.peer.devices--;
        evicted++;
      }
    }
    for (const [host, src] of this.#sources) if (now - src.lastSeen > idle) this.#sources.delete(host);
    this.counters.evicted += evicted;
    return evicted;
  }

  #closeWindow(s: DeviceState, now: number): void {
    const cap = this.#qStates.length;
    if (this.#qCount === cap) {
      this.counters.syncDrains++;
      this.flush();
    }
    const slot = (this.#qHead + this.#qCount) % cap;
    const span = Math.min(now - s.winStart, MAX_WINDOW_FACTOR * this.#config.windowMs);
    s.closeWindow(this.#qFeatures, slot * FEATURE_COUNT, span, now);
    this.#qAt[slot] = now;
    this.#qStates[slot] = s;
    this.#qCount++;
    this.counters.windows++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      (this.#deps.schedule ?? setImmediate)(() => this.flush());
    }
  }

  /**
   * Scores one closed window (ending at `at`) and learns it. References: the device's own
   * baseline once warm, its peers' once their group is, the profile's declared envelope
   * always; the rates also against the usual at this hour of day. Windows nothing could judge
   * yet (a new profile) are learnt, except over the envelope; a new group's baseline starts
   * from the medians of its first windows, and a device's early baseline is forgotten if its
   * peers, once warm, find it anomalous: an attack in its first windows does not become its normal.
   */
  #learn(s: DeviceState, at: number): void {
    if (!this.#devices.has(s.id)) return;
    const x = this.#x;
    const config = this.#config;
    const threshold = config.anomalyScore;
    const warm = config.warmupWindows;
    const peers = this.#peerReady(s) ? s.peer.baseline : undefined;
    if (!s.vetted && peers !== undefined) {
      // Cold-start poisoning: what the device learnt before anything could judge it is
      // forgotten if its normal is anomalous for its peers.
      s.vetted = true;
      if (s.baseline.n > 0 && peers.score(s.baseline.mean, this.#score) >= threshold) {
        s.baseline.reset();
        s.hours.reset();
        this.counters.unlearnt++;
      }
    }
    const own = s.baseline.n >= warm ? s.baseline : undefined;
    const ref = own ?? peers;
    let score = ref === undefined ? 0 : ref.score(x, this.#score);
    // A device with its own baseline is anomalous only if the window is unusual for its peers
    // too (a profile's normal bursts, e.g. cameras by day, need not be in a young device's baseline).
    if (own !== undefined && peers !== undefined && score >= threshold) score = Math.min(score, peers.score(x, this.#score));
    // Time of day: the rates against the usual at this hour (the device's, then its peers').
    const hour = hourOf(at);
    let hourScore = 0;
    let hourRef: "device" | "peers" = "device";
    if (config.timeOfDay && ref !== undefined) {
      const mine = own !== undefined ? s.hours.score(hour, x, warm) : Number.NaN;
      const theirs = peers !== undefined ? s.peer.hours.score(hour, x, warm) : Number.NaN;
      if (!Number.isNaN(mine)) hourScore = mine >= threshold && !Number.isNaN(theirs) ? Math.min(mine, theirs) : mine;
      else if (!Number.isNaN(theirs)) {
        hourScore = theirs;
        hourRef = "peers";
      }
    }
    // The declared envelope: what the profile's rate limit lets through in a window.
    const over = envelopeRatio(s.peer, x);
    const envelopeScore = over > ENVELOPE_MARGIN ? (threshold * over) / ENVELOPE_MARGIN : 0;
    const top = Math.max(score, hourScore, envelopeScore);
    const anomalous = top >= threshold;
    if (anomalous) {
      s.anomalousWindows++;
      if (s.anomalousWindows >= config.anomalyWindows) {
        const now = s.lastSeen;
        const kind = envelopeScore === top ? "envelope" : hourScore === top ? "time_of_day" : "baseline";
        this.#fire(s, "behaviour_anomaly", now, performance.now(), top / threshold, () => {
          const deviations: Record<string, unknown>[] = [];
          if (envelopeScore > 0) deviations.push(...envelopeEvidence(s.peer, x));
          if (hourScore >= threshold / 2)
            deviations.push(...(hourRef === "device" ? s.hours : s.peer.hours).explain(hour, x, warm, threshold / 2, FEATURES));
          if (ref !== undefined) deviations.push(...explain(ref, x, threshold / 2));
          return {
            score: round(top),
            threshold,
            baseline: kind === "envelope" ? "profile" : kind === "time_of_day" ? hourRef : ref === own ? "device" : "peers",
            model: kind,
            hourOfDay: hour,
            windows: s.anomalousWindows,
            deviations,
          };
        });
      }
    } else {
      s.anomalousWindows = 0;
    }
    const beyond = envelopeScore >= threshold;
    if (!beyond && (!anomalous || s.anomalousWindows > ACCEPT_AFTER)) {
      s.baseline.update(x);
      s.peer.learn(x, s.tag);
      if (config.timeOfDay) {
        s.hours.update(hour, x);
        s.peer.hours.update(hour, x);
      }
    } else if (!beyond && s.anomalousWindows <= config.anomalyWindows) {
      // An isolated burst teaches the group's upper tails (a profile's bursts are normal); a
      // device's run of anomalous windows does not, nor its own young baseline (at weight 1/n
      // its first bursts would become its normal).
      if (peers !== undefined) s.peer.baseline.updateTail(x);
      if (config.timeOfDay) s.peer.hours.updateTail(hour, x);
    }
    // The exfiltration limit: the higher of the device's and its peers' upper bands.
    const mine = own !== undefined ? own.upper(1, EXFIL_BAND) : Number.NaN;
    const theirs = peers !== undefined ? peers.upper(1, EXFIL_BAND) : Number.NaN;
    const upper = Number.isNaN(mine) ? theirs : Number.isNaN(theirs) ? mine : Math.max(mine, theirs);
    s.exfilLimit = Number.isNaN(upper)
      ? Number.POSITIVE_INFINITY
      : Math.max(s.rules.exfiltration.factor * upper, s.rules.exfiltration.minBytesPerSecond);
  }

  #reference(s: DeviceState): RobustBaseline | undefined {
    if (s.baseline.n >= this.#config.warmupWindows) return s.baseline;
    if (this.#peerReady(s)) return s.peer.baseline;
    return undefined;
  }

  /** A peer group judges once seeded from `peerWarmupWindows` windows of enough devices (PeerGroup.ready). */
  #peerReady(s: DeviceState): boolean {
    return s.peer.ready(this.#config.peerWarmupWindows);
  }

  // --- findings ---------------------------------------------------------------------------

  #fire(
    s: DeviceState,
    rule: RuleId,
    now: number,
    t0: number,
    strength: number,
    evidence: () => Record<string, unknown>,
    override: { severity?: Severity; action?: Action } = {},
  ): void {
    const i = RULE_INDEX[rule];
    if (now - (s.lastFired[i] as number) < this.#config.dedupMs) return;
    s.lastFired[i] = now;
    this.#raise(s.id, rule, now, t0, strength, override.action ?? RULE_SPECS[rule].action, evidence(), override.severity);
  }

  #raise(
    device: string,
    rule: RuleId,
    now: number,
    t0: number,
    strength: number,
    action: Action,
    evidence: Record<string, unknown>,
    severity?: Severity,
  ): void {
    let detectToBlockMs: number | null = null;
    let taken: Action = action;
    const enforcer = this.#deps.enforcer?.();
    if (rule === "exfiltration") taken = enforcer === undefined ? "refuse" : action;
    if (taken === "disconnect" || taken === "quarantine") {
      if (enforcer === undefined) taken = "none";
      else if (taken === "disconnect") enforcer.disconnect(device);
      else enforcer.quarantine(device, `detection: ${rule}`).catch((error: unknown) => this.#deps.onError?.(error));
    }
    if (taken !== "none") detectToBlockMs = performance.now() - t0;
    const finding: Finding = {
      id: this.#deps.newId?.() ?? `${this.#prefix}-${++this.#seq}`,
      device,
      rule,
      severity: severity ?? RULE_SPECS[rule].severity,
      category: RULE_SPECS[rule].category,
      confidence: confidenceOf(strength),
      at: now,
      action: taken,
      detectToBlockMs,
      evidence,
    };
    this.#raised++;
    if (this.#findings.length >= MAX_FINDINGS_KEPT) this.#findings.shift();
    this.#findings.push(finding);
    this.#deps.emit(finding);
  }

  // --- state ------------------------------------------------------------------------------

  #create(device: string, profile: string | null, now: number): DeviceState {
    if (this.#devices.size >= this.#config.maxDevices) this.#evictOldest(this.#devices);
    const peer = this.#peer(profile);
    const s = new DeviceState(device, profile, peer, this.#rules(profile), now);
    peer.devices++;
    this.#devices.set(device, s);
    return s;
  }

  #assign(s: DeviceState, profile: string | null): void {
    s.peer.devices--;
    s.profile = profile;
    s.peer = this.#peer(profile);
    s.peer.devices++;
    s.vetted = false;
    s.setRules(this.#rules(profile));
  }

  #peer(profile: string | null): PeerGroup {
    const key = profile ?? "";
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      peer = new PeerGroup(key, this.#config.peerWarmupWindows);
      const envelope = profile === null ? undefined : this.#deps.envelope?.(profile);
      if (envelope !== undefined) {
        // The most a token bucket (rate r, size b) lets through in one window: r + b / window.
        peer.envelopeMessages = envelope.maxMessagesPerSecond + (envelope.burst * 1000) / this.#config.windowMs;
        peer.envelopeBytes = peer.envelopeMessages * envelope.maxPayloadBytes;
      }
      this.#peers.set(key, peer);
    }
    return peer;
  }

  #rules(profile: string | null): RuleSettings {
    const key = profile ?? "";
    let rules = this.#rulesByProfile.get(key);
    if (rules === undefined) {
      rules = rulesFor(this.#config, profile);
      this.#rulesByProfile.set(key, rules);
    }
    return rules;
  }

  #evictOldest<V extends { lastSeen: number }>(map: Map<string, V>): void {
    // Map order is insertion order: the first entries are the oldest; sample a few.
    let victim: string | undefined;
    let oldest = Number.POSITIVE_INFINITY;
    let looked = 0;
    for (const [key, value] of map) {
      if (value.lastSeen < oldest) {
        oldest = value.lastSeen;
        victim = key;
      }
      if (++looked >= 8) break;
    }
    if (victim === undefined) return;
    const gone = map.get(victim);
    map.delete(victim);
    if (gone instanceof DeviceState) gone.peer.devices--;
    this.counters.evicted++;
  }
}

/** Features that deviated, most first: name, value, baseline mean and scale, deviation. */
export function explain(
  ref: RobustBaseline,
  x: Float64Array,
  min: number,
): { feature: string; value: number; baseline: number; scale: number; z: number }[] {
  const out: { feature: string; value: number; baseline: number; scale: number; z: number }[] = [];
  for (let i = 0; i < FEATURE_COUNT; i++) {
    const z = ref.z(x, i);
    if (z >= min)
      out.push({
        feature: FEATURES[i] as string,
        value: round(x[i] as number),
        baseline: round(ref.mean[i] as number),
        scale: round(ref.scale(i)),
        z: round(z),
      });
  }
  return out.sort((a, b) => b.z - a.z);
}

/** How far a window is over its profile's declared envelope (the larger of messages and bytes; 0: no envelope). */
function envelopeRatio(peer: PeerGroup, x: Float64Array): number {
  const m = (x[0] as number) / peer.envelopeMessages;
  const b = (x[1] as number) / peer.envelopeBytes;
  const r = m > b ? m : b;
  return r > 0 ? r : 0;
}

function envelopeEvidence(peer: PeerGroup, x: Float64Array): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const limits = [peer.envelopeMessages, peer.envelopeBytes];
  for (let i = 0; i < 2; i++) {
    const limit = limits[i] as number;
    const ratio = (x[i] as number) / limit;
    if (ratio > 1) out.push({ feature: FEATURES[i], value: round(x[i] as number), envelope: round(limit), ratio: round(ratio) });
  }
  return out;
}

/** 0.5 at the threshold, towards 0.99 as the evidence grows past it. */
function confidenceOf(strength: number): number {
  const c = 1 - 0.5 / Math.max(1, strength);
  return Math.round(Math.min(0.99, Math.max(0.5, c)) * 100) / 100;
}

/** A decayed count has reached `threshold` events (decay shaves a little off events close together). */
function reached(count: number, threshold: number): boolean {
  return count + 0.5 >= threshold;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
