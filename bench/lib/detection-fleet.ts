// A fleet-scale trial of the detector alone, on simulated time: the simulator's own device
// behaviours (packages/server/src/simulator/behaviours.ts, the code the virtual devices run)
// produce every message, with their reboots and connectivity blips, for hundreds of benign
// devices and hundreds of drifting ones, fast enough to give TPR / FPR with real sample sizes.
import {
  Detector,
  detectionConfigSchema,
  type DetectionConfig,
  type Finding,
} from "../../packages/server/src/detection/index.js";
import { behaviourOf, createRandom, driftRampMs, type Random } from "../../packages/server/src/simulator/index.js";

export interface FleetTrialOptions {
  readonly seed: number;
  /** Benign devices per profile. */
  readonly benign: Readonly<Record<string, number>>;
  /** Drifting devices per profile. */
  readonly drifting: Readonly<Record<string, number>>;
  /** Simulated ms before the first drift starts (baselines warm up). */
  readonly baselineMs: number;
  /** Drift starts are spread over this many ms after the baseline. */
  readonly spreadMs: number;
  /**
   * Ramp of the drift 0 -> 1 (the scenario ramps over its whole duration), stretched per profile
   * as the scenario stretches it: to at least `DRIFT_MIN_READINGS` reporting periods.
   */
  readonly rampMs: number;
  /** A detection counts up to this long after the ramp ended. */
  readonly tailMs: number;
  /** Share of benign devices that join late (judged against their peers from their first message). */
  readonly lateShare: number;
  /** Per-tick chance of a reboot and of a blip (the simulator's default is 0.0005 each). */
  readonly reboot: number;
  readonly blip: number;
  readonly dayLengthMs: number;
  readonly config?: Partial<DetectionConfig>;
}

interface SimDevice {
  readonly id: string;
  readonly profile: string;
  readonly topicBase: string;
  readonly random: Random;
  next: number;
  seq: number;
  /** Down until (reboot / blip), or 0. */
  downUntil: number;
  rebooting: boolean;
  joinAt: number;
  joined: boolean;
  driftStart: number;
  /** This device's drift ramp (ms). */
  readonly rampMs: number;
}

export interface FleetTrialResult {
  readonly perProfile: Record<string, { attacked: number; detected: number; detectMs: number[]; rampMs: number }>;
  readonly benign: number;
  readonly benignFlagged: number;
  readonly benignFlaggedLate: number;
  readonly late: number;
  readonly messages: number;
  readonly simulatedMs: number;
  readonly reboots: number;
  readonly blips: number;
  readonly findings: readonly Finding[];
}

/** Runs the trial; every benign device's `behaviour_anomaly` finding at any time is a false positive. */
export function runFleetTrial(o: FleetTrialOptions): FleetTrialResult {
  const config = detectionConfigSchema.parse(o.config ?? {});
  const findings: Finding[] = [];
  const d = new Detector({ config, emit: (f) => findings.push(f), schedule: () => undefined });
  const master = createRandom(o.seed);
  const devices: SimDevice[] = [];
  const t0 = 1_800_000_000_000;
  const longestRamp = Math.max(o.rampMs, ...Object.keys(o.drifting).map((p) => driftRampMs(o.rampMs, behaviourOf(p).periodMs)));
  const end = o.baselineMs + o.spreadMs + longestRamp + o.tailMs;
  let n = 0;
  const add = (profile: string, drifting: boolean) => {
    const id = `${drifting ? "drift" : "ok"}-${profile}-${n++}`;
    const late = !drifting && master.next() < o.lateShare;
    const joinAt = late ? o.baselineMs + master.next() * (o.spreadMs + longestRamp) : master.next() * 10_000;
    devices.push({
      id,
      profile,
      topicBase: `devices/${id}/`,
      random: createRandom(master.int(1, 2 ** 31)),
      next: joinAt,
      seq: 0,
      downUntil: 0,
      rebooting: false,
      joinAt,
      joined: false,
      driftStart: drifting ? o.baselineMs + master.next() * o.spreadMs : Number.POSITIVE_INFINITY,
      rampMs: driftRampMs(o.rampMs, behaviourOf(profile).periodMs),
    });
  };
  for (const [p, c] of Object.entries(o.benign)) for (let i = 0; i < c; i++) add(p, false);
  for (const [p, c] of Object.entries(o.drifting)) for (let i = 0; i < c; i++) add(p, true);
  let messages = 0;
  let reboots = 0;
  let blips = 0;
  const step = 50;
  for (let t = 0; t <= end; t += step) {
    const now = t0 + t;
    for (const dev of devices) {
      if (dev.next > t) continue;
      if (!dev.joined) {
        dev.joined = true;
        d.connected(dev.id, dev.profile, "10.0.0.1:40000", now);
      }
      const b = behaviourOf(dev.profile);
      if (dev.downUntil > 0) {
        // Back up: a new session.
        dev.downUntil = 0;
        d.connected(dev.id, dev.profile, "10.0.0.1:40000", now);
        if (dev.rebooting) {
          dev.rebooting = false;
          dev.seq = 0;
          if (b.bootTopic !== undefined) {
            const body = Buffer.from(JSON.stringify({ ts: now, event: "boot", reason: "watchdog" }));
            d.observe(dev.id, dev.topicBase + b.bootTopic, body.length, now, body);
            messages++;
          }
        }
      }
      if (dev.random.chance(o.reboot)) {
        reboots++;
        d.disconnected(dev.id, now);
        dev.rebooting = true;
        dev.downUntil = t + dev.random.int(500, 2_000);
        dev.next = dev.downUntil;
        continue;
      }
      if (dev.random.chance(o.blip)) {
        blips++;
        d.disconnected(dev.id, now);
        dev.downUntil = t + dev.random.int(100, 800);
        dev.next = dev.downUntil;
        continue;
      }
      const drift = t < dev.driftStart ? 0 : Math.min(1, (t - dev.driftStart) / dev.rampMs);
      const out = b.tick({
        deviceId: dev.id,
        random: dev.random,
        dayPhase: (now % o.dayLengthMs) / o.dayLengthMs,
        seq: dev.seq++,
        now,
        drift: t > dev.driftStart + dev.rampMs ? 0 : drift,
      });
      for (const m of out) {
        const body = Buffer.from(JSON.stringify(m.payload));
        d.observe(dev.id, dev.topicBase + m.subtopic, body.length, now, body);
        messages++;
      }
      if (messages % 4096 < out.length) d.flush();
      dev.next = t + b.periodMs * (0.8 + 0.4 * dev.random.next());
    }
  }
  d.flush();
  const perProfile: FleetTrialResult["perProfile"] = {};
  const all = new Map<string, number[]>();
  for (const f of findings)
    if (f.rule === "behaviour_anomaly") (all.get(f.device) ?? all.set(f.device, []).get(f.device)!).push(f.at - t0);
  let benign = 0;
  let flagged = 0;
  let late = 0;
  let flaggedLate = 0;
  for (const dev of devices) {
    const ats = all.get(dev.id) ?? [];
    if (Number.isFinite(dev.driftStart)) {
      const p = (perProfile[dev.profile] ??= { attacked: 0, detected: 0, detectMs: [], rampMs: dev.rampMs });
      p.attacked++;
      const at = ats.find((x) => x >= dev.driftStart && x <= dev.driftStart + dev.rampMs + o.tailMs);
      if (at !== undefined) {
        p.detected++;
        p.detectMs.push(at - dev.driftStart);
      }
    } else {
      benign++;
      const isLate = dev.joinAt >= o.baselineMs;
      if (isLate) late++;
      if (ats.length > 0) {
        flagged++;
        if (isLate) flaggedLate++;
      }
    }
  }
  return {
    perProfile,
    benign,
    benignFlagged: flagged,
    benignFlaggedLate: flaggedLate,
    late,
    messages,
    simulatedMs: end,
    reboots,
    blips,
    findings,
  };
}
