import { Decayed } from "./decayed.js";
import { DETECTION_DEFAULTS, type RuleSettings } from "./detection-config.js";
import { FEATURE_COUNT, RobustBaseline } from "./robust-baseline.js";
import { HourProfile } from "./hour-profile.js";
import { FieldTable, PEER_FIELDS, PayloadDrift } from "./payload-drift.js";

/** The rules, in the order of `DeviceState.lastFired`. */
export const RULES = [
  "brute_force",
  "reconnect_flapping",
  "topic_reconnaissance",
  "flood",
  "exfiltration",
  "identity_cloned",
  "lateral_movement",
  "repeated_denials",
  "behaviour_anomaly",
  "network_scan",
] as const;
export type RuleId = (typeof RULES)[number];
export const RULE_INDEX: Readonly<Record<RuleId, number>> = Object.freeze(
  Object.fromEntries(RULES.map((r, i) => [r, i])) as Record<RuleId, number>,
);

/** Most windows a new peer group's baseline is seeded from (the rest of its warm-up is learnt one by one). */
const PEER_SEED_MAX = 64;

/** Distinct devices in a new group's seed windows that let it judge at once. */
const PEER_MIN_DEVICES = 8;
/** A group seeded from fewer devices judges after this many times its seed windows. */
const PEER_SMALL_FACTOR = 3;

/** Devices of one profile: the baseline a new device is judged against from its first window. */
export class PeerGroup {
  readonly profile: string;
  readonly baseline = new RobustBaseline(1 / 200);
  /** The profile's usual rates per hour of day. */
  readonly hours = new HourProfile();
  /** A new group's first windows, kept until the baseline is seeded from their medians (`RobustBaseline.seed`). */
  readonly warmup: Float64Array;
  /** Which device each of `warmup`'s windows came from (hash of its id). */
  readonly warmupSources: Float64Array;
  warmupCount = 0;
  /** Distinct devices among the seed windows. */
  seedDevices = 0;
  /** The profile's payload fields (a new device's fields are judged against these). */
  readonly fields = new FieldTable(PEER_FIELDS);
  devices = 0;
  /**
   * The profile's declared envelope over one feature window (set by `Detector`): most
   * messages/s and bytes/s the gateway's rate limit lets through; +Infinity when unknown.
   */
  envelopeMessages = Number.POSITIVE_INFINITY;
  envelopeBytes = Number.POSITIVE_INFINITY;

  constructor(profile: string, warmupWindows: number = DETECTION_DEFAULTS.peerWarmupWindows) {
    this.profile = profile;
    const seed = Math.min(warmupWindows, PEER_SEED_MAX);
    this.warmup = new Float64Array(seed * FEATURE_COUNT);
    this.warmupSources = new Float64Array(seed);
  }

  /** Learns one window: into the seed buffer while the group is new, then into the baseline. */
  learn(x: Float64Array, source: number): void {
    if (this.baseline.n > 0) {
      this.baseline.update(x);
      return;
    }
    this.warmup.set(x, this.warmupCount * FEATURE_COUNT);
    this.warmupSources[this.warmupCount] = source;
    if (++this.warmupCount === this.warmupSources.length) {
      this.baseline.seed(this.warmup, this.warmupSources, this.warmupCount);
      this.seedDevices = distinct(this.warmupSources, this.warmupCount);
    }
  }

  /**
   * Whether the group judges its devices (docs/adr/0004 "Peers from the first minute"): once
   * seeded from `warmupWindows` windows of at least PEER_MIN_DEVICES devices (a large new group:
   * within its first window period), otherwise once it has learnt 3 x as many (a small group's
   * rare bursts need the longer history).
   */
  ready(warmupWindows: number): boolean {
    const n = this.baseline.n;
    return n >= warmupWindows && (this.seedDevices >= PEER_MIN_DEVICES || n >= PEER_SMALL_FACTOR * warmupWindows);
  }
}

/** Open-addressing set of 32-bit topic hashes (topic novelty), fixed size, no allocation. */
const TOPIC_SLOTS = 64;
const TOPIC_MAX = 48;

/**
 * Everything the detector keeps about one device: fixed-size, allocated once when the device
 * is first seen (about 4.4 KB of heap and 2.2 KB of typed arrays, see docs/detection.md), updated in place on every event.
 */
export class DeviceState {
  readonly id: string;
  /** `hashString(id)`: the device's tag in its peer group's seed windows. */
  readonly tag: number;
  profile: string | null;
  peer: PeerGroup;
  rules: RuleSettings;
  lastSeen: number;
  connected = false;

  // Multi-scale rates (10 s, 1 min, 10 min).
  readonly msgs = [new Decayed(10_000), new Decayed(60_000), new Decayed(600_000)] as const;
  readonly bytes = [new Decayed(10_000), new Decayed(60_000), new Decayed(600_000)] as const;
  // Rule windows.
  readonly exfilBytes: Decayed;
  readonly refusals: Decayed;
  readonly connects: Decayed;
  readonly recon: Decayed;
  readonly dropped: Decayed;
  readonly lateral: Decayed;
  readonly denials: Decayed;
  /** Byte rate (per s) above which a message is exfiltration; recomputed off the message path. */
  exfilLimit = Number.POSITIVE_INFINITY;
  /** Set when an inline rule fired: further messages are refused until the session ends. */
  blocked = false;

  // The open feature window.
  winStart = -1;
  winMsgs = 0;
  winBytes = 0;
  winSizeSq = 0;
  winNewTopics = 0;
  winGapSum = 0;
  winGapSq = 0;
  winGaps = 0;
  winSessions = 0;
  winDenials = 0;
  lastMsgAt = -1;
  readonly topics = new Uint32Array(TOPIC_SLOTS);
  topicCount = 0;
  /** Distinct denied filters in the current reconnaissance window. */
  readonly probed = new Uint32Array(16);
  probedCount = 0;
  probedAt = 0;

  /**
   * Learnt from its first windows; checked against its peers once they are warm, and
   * forgotten if its normal is anomalous for them (an attack in its first windows).
   */
  readonly baseline = new RobustBaseline();
  /** Its baseline was checked against a warm peer group (or started under one). */
  vetted = false;
  /** The device's usual rates per hour of day. */
  readonly hours = new HourProfile();
  /** Payload value baselines and the drift CUSUMs. */
  readonly drift = new PayloadDrift();
  anomalousWindows = 0;
  readonly lastFired = new Float64Array(RULES.length).fill(Number.NEGATIVE_INFINITY);

  constructor(id: string, profile: string | null, peer: PeerGroup, rules: RuleSettings, now: number) {
    this.id = id;
    this.tag = hashString(id);
    this.profile = profile;
    this.peer = peer;
    this.rules = rules;
    this.lastSeen = now;
    this.exfilBytes = new Decayed(rules.exfiltration.windowMs);
    this.refusals = new Decayed(rules.bruteForce.windowMs);
    this.connects = new Decayed(rules.flapping.windowMs);
    this.recon = new Decayed(rules.recon.windowMs);
    this.dropped = new Decayed(rules.flood.windowMs);
    this.lateral = new Decayed(rules.lateral.windowMs);
    this.denials = new Decayed(rules.denials.windowMs);
  }

  /** Applies a profile's rules (a device's profile became known). */
  setRules(rules: RuleSettings): void {
    this.rules = rules;
    this.exfilBytes.tau = rules.exfiltration.windowMs;
    this.refusals.tau = rules.bruteForce.windowMs;
    this.connects.tau = rules.flapping.windowMs;
    this.recon.tau = rules.recon.windowMs;
    this.dropped.tau = rules.flood.windowMs;
    this.lateral.tau = rules.lateral.windowMs;
    this.denials.tau = rules.denials.windowMs;
  }

  /** Records a topic; true when it was not seen before (bounded: past 48 topics everything new counts as novel). */
  noteTopic(hash: number): boolean {
    const h = hash === 0 ? 1 : hash;
    let i = h & (TOPIC_SLOTS - 1);
    for (let probes = 0; probes < TOPIC_SLOTS; probes++) {
      const v = this.topics[i] as number;
      if (v === h) return false;
      if (v === 0) {
        if (this.topicCount < TOPIC_MAX) {
          this.topics[i] = h;
          this.topicCount++;
        }
        return true;
      }
      i = (i + 1) & (TOPIC_SLOTS - 1);
    }
    return true;
  }

  /** Records a denied filter for reconnaissance; true when it is a new one in the current window. */
  noteProbe(hash: number, now: number): boolean {
    if (now - this.probedAt > this.rules.recon.windowMs) {
      this.probed.fill(0);
      this.probedCount = 0;
    }
    this.probedAt = now;
    const h = hash === 0 ? 1 : hash;
    for (let i = 0; i < this.probedCount; i++) if (this.probed[i] === h) return false;
    if (this.probedCount < this.probed.length) this.probed[this.probedCount++] = h;
    return true;
  }

  /** Writes the open window's features into `out` from `at` (FEATURE_COUNT doubles) and starts a new one. */
  closeWindow(out: Float64Array, at: number, windowMs: number, now: number): void {
    const secs = windowMs / 1000;
    const n = this.winMsgs;
    const meanSize = n > 0 ? this.winBytes / n : 0;
    const varSize = n > 0 ? Math.max(0, this.winSizeSq / n - meanSize * meanSize) : 0;
    const g = this.winGaps;
    const meanGap = g > 0 ? this.winGapSum / g : 0;
    const varGap = g > 0 ? Math.max(0, this.winGapSq / g - meanGap * meanGap) : 0;
    out[at + 0] = n / secs;
    out[at + 1] = this.winBytes / secs;
    out[at + 2] = meanSize;
    out[at + 3] = Math.sqrt(varSize);
    out[at + 4] = this.winNewTopics;
    out[at + 5] = meanGap > 0 ? Math.sqrt(varGap) / meanGap : 0;
    out[at + 6] = this.winSessions;
    out[at + 7] = this.winDenials;
    this.winStart = now;
    this.winMsgs = 0;
    this.winBytes = 0;
    this.winSizeSq = 0;
    this.winNewTopics = 0;
    this.winGapSum = 0;
    this.winGapSq = 0;
    this.winGaps = 0;
    this.winSessions = 0;
    this.winDenials = 0;
  }
}

export { FEATURE_COUNT };

/** Distinct values among the first `count` of `values` (small: quadratic is fine). */
function distinct(values: Float64Array, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) {
    let seen = false;
    for (let j = 0; j < i && !seen; j++) seen = values[j] === values[i];
    if (!seen) n++;
  }
  return n;
}

/** FNV-1a of a string's UTF-16 code units: no allocation. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
