import type { Random } from "./random.js";

/** One message a virtual device sends: a subtopic of `devices/{device}/`, a JSON body, a QoS. */
export interface OutgoingMessage {
  readonly subtopic: string;
  readonly payload: Record<string, unknown>;
  readonly qos: 0 | 1;
}

export interface TickContext {
  readonly deviceId: string;
  readonly random: Random;
  /** Position in the simulated day, 0..1 (0 = midnight); drives the diurnal pattern. */
  readonly dayPhase: number;
  /** Ticks since the device (re)booted. */
  readonly seq: number;
  /** Wall-clock time of the tick (epoch ms). */
  readonly now: number;
  /**
   * Behaviour drift of a compromised device, 0 (none) .. 1 (fully drifted): readings move
   * away from their normal mean by up to ~4 standard deviations and get noisier.
   */
  readonly drift: number;
}

/**
 * How one kind of device behaves. `tick()` is called every `periodMs` (jittered ±20 %) and
 * returns what the device sends then. Every behaviour keeps its *average* rate under 35 % of
 * its profile's `maxMessagesPerSecond`, its largest tick under half the profile's `burst`,
 * and its payloads under 40 % of `maxPayloadBytes`, so a benign fleet stays inside its policy
 * even in the `restricted` tier (which halves rate, burst and size); `behaviours.test.ts`
 * checks that against the shipped profiles.
 */
export interface Behaviour {
  readonly profile: string;
  readonly periodMs: number;
  /** The subtopic that carries bulk data (for exfiltration and floods). */
  readonly dataTopic: string;
  /** Where a boot notice goes after a reboot, if the profile has an events-like topic. */
  readonly bootTopic?: string;
  tick(ctx: TickContext): OutgoingMessage[];
}

/** A value following a daily curve: `base + amplitude * sin(...)`, peaking at `peak` (0..1). */
function diurnal(ctx: TickContext, base: number, amplitude: number, peak = 0.6): number {
  return base + amplitude * Math.cos(2 * Math.PI * (ctx.dayPhase - peak));
}

/** A noisy reading with drift applied: the mean moves by `drift * 4 sd` and noise grows. */
function reading(ctx: TickContext, mean: number, sd: number, digits = 1): number {
  const value = ctx.random.normal(mean + ctx.drift * 4 * sd, sd * (1 + ctx.drift));
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

const environmentalSensor: Behaviour = {
  profile: "environmental-sensor",
  periodMs: 20_000,
  dataTopic: "telemetry",
  tick(ctx) {
    const temperature = reading(ctx, diurnal(ctx, 14, 6), 0.3);
    const out: OutgoingMessage[] = [
      {
        subtopic: "telemetry",
        qos: 0,
        payload: {
          ts: ctx.now,
          t: temperature,
          rh: reading(ctx, diurnal(ctx, 60, -15), 2),
          pm25: Math.max(0, reading(ctx, diurnal(ctx, 12, 6, 0.35), 3)),
          co2: Math.round(Math.max(380, reading(ctx, diurnal(ctx, 450, 60, 0.4), 15))),
          noise: reading(ctx, diurnal(ctx, 52, 10, 0.55), 3),
          battery: round(3.6 - ctx.seq * 0.0001, 3),
        },
      },
    ];
    return out;
  },
};

const smartMeter: Behaviour = {
  profile: "smart-meter",
  periodMs: 40_000,
  dataTopic: "telemetry",
  bootTopic: "events",
  tick(ctx) {
    const watts = Math.max(50, reading(ctx, diurnal(ctx, 900, 600, 0.8), 120, 0));
    const out: OutgoingMessage[] = [
      {
        subtopic: "telemetry",
        qos: 1,
        payload: { ts: ctx.now, w: watts, kwh: round(1000 + ctx.seq * 0.25, 2), v: reading(ctx, 230, 1.5) },
      },
    ];
    // A brief outage and restore is a benign event the detectors must not flag.
    if (ctx.random.chance(0.01)) out.push({ subtopic: "events", qos: 1, payload: { ts: ctx.now, event: "power_restore" } });
    return out;
  },
};

const infusionPump: Behaviour = {
  profile: "infusion-pump",
  periodMs: 2_000,
  dataTopic: "telemetry",
  tick(ctx) {
    const rate = 25 + (ctx.deviceId.length % 5) * 10;
    const out: OutgoingMessage[] = [
      {
        subtopic: "telemetry",
        qos: 1,
        payload: {
          ts: ctx.now,
          state: "infusing",
          drug: "heparin",
          concentration: "25000 IU/250 mL",
          rateMlH: reading(ctx, rate, 0.05, 2),
          vtbiMl: 500,
          infusedMl: round((ctx.seq * rate) / 1800, 2),
          pressureMmHg: reading(ctx, 180, 12, 0),
        },
      },
    ];
    // Now and then an occlusion alarm, sometimes with a second alarm at once (a small storm).
    if (ctx.random.chance(0.01)) {
      out.push({ subtopic: "alarms", qos: 1, payload: { ts: ctx.now, alarm: "downstream_occlusion", priority: "high" } });
      if (ctx.random.chance(0.5))
        out.push({ subtopic: "alarms", qos: 1, payload: { ts: ctx.now, alarm: "infusion_paused", priority: "medium" } });
    }
    return out;
  },
};

const patientMonitor: Behaviour = {
  profile: "patient-monitor",
  periodMs: 1_000,
  dataTopic: "waveforms",
  tick(ctx) {
    const hr = reading(ctx, diurnal(ctx, 72, 8, 0.6), 2, 0);
    // 500 ms of a synthetic lead II at 250 Hz, 16-bit little-endian, base64.
    const samples = Buffer.allocUnsafe(250);
    for (let i = 0; i < 125; i++) {
      const phase = ((ctx.seq * 125 + i) / 250) * (hr / 60);
      const beat = phase - Math.floor(phase);
      const v = (beat < 0.04 ? 1200 : beat < 0.3 ? 150 * Math.sin(beat * 10) : 0) + ctx.random.normal(0, 15);
      samples.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), i * 2);
    }
    const out: OutgoingMessage[] = [
      {
        subtopic: "telemetry",
        qos: 0,
        payload: {
          ts: ctx.now,
          hr,
          spo2: Math.min(100, reading(ctx, 97, 0.8, 0)),
          rr: reading(ctx, 15, 1.5, 0),
          tempC: reading(ctx, 36.9, 0.1),
          nibp: ctx.seq % 300 === 0 ? { sys: reading(ctx, 122, 6, 0), dia: reading(ctx, 78, 4, 0) } : null,
        },
      },
      { subtopic: "waveforms", qos: 0, payload: { ts: ctx.now, lead: "II", hz: 250, data: samples.toString("base64") } },
    ];
    if (ctx.random.chance(0.003))
      out.push({ subtopic: "alarms", qos: 1, payload: { ts: ctx.now, alarm: "spo2_low", priority: "medium", value: 89 } });
    return out;
  },
};

const ipCamera: Behaviour = {
  profile: "ip-camera",
  periodMs: 5_000,
  dataTopic: "events",
  tick(ctx) {
    const out: OutgoingMessage[] = [];
    if (ctx.seq % 6 === 0)
      out.push({
        subtopic: "telemetry",
        qos: 0,
        payload: { ts: ctx.now, tempC: reading(ctx, 41, 1), storageUsedPct: 63, stream: "ok", fps: 25 },
      });
    // Motion comes in clusters (someone walking through several zones), more by day. The
    // snapshot is kept small (4-12 KB thumbnail) so demo fleets stay light.
    if (ctx.random.chance(0.03 + 0.07 * Math.max(0, Math.cos(2 * Math.PI * (ctx.dayPhase - 0.55))))) {
      const n = ctx.random.int(1, 3);
      for (let i = 0; i < n; i++)
        out.push({
          subtopic: "events",
          qos: 1,
          payload: {
            ts: ctx.now,
            event: ctx.random.pick(["motion", "line_crossing", "person"]),
            zone: ctx.random.int(1, 4),
            snapshot: ctx.random.bytes(ctx.random.int(4_000, 12_000)).toString("base64"),
          },
        });
    }
    return out;
  },
};

const plc: Behaviour = {
  profile: "plc",
  periodMs: 500,
  dataTopic: "telemetry",
  tick(ctx) {
    const tags: Record<string, number> = {};
    for (let i = 0; i < 24; i++) tags[`tag${i}`] = reading(ctx, 50 + i * 3 + 5 * Math.sin(ctx.seq / 40 + i), 0.5, 2);
    const out: OutgoingMessage[] = [{ subtopic: "telemetry", qos: 0, payload: { ts: ctx.now, cycle: ctx.seq, tags } }];
    if (ctx.random.chance(0.004)) {
      // A minor fault cascade: a fault and the mode change it causes.
      out.push({ subtopic: "events", qos: 1, payload: { ts: ctx.now, event: "fault", code: "F204", text: "conveyor jam" } });
      out.push({ subtopic: "events", qos: 1, payload: { ts: ctx.now, event: "mode", mode: "hold" } });
    }
    return out;
  },
};

const vehicleTelematics: Behaviour = {
  profile: "vehicle-telematics",
  periodMs: 2_000,
  dataTopic: "telemetry",
  tick(ctx) {
    // Day shift: vehicles move by day and idle at night.
    const moving = Math.cos(2 * Math.PI * (ctx.dayPhase - 0.55)) > -0.3;
    const speed = moving ? Math.max(0, reading(ctx, 48, 12, 0)) : 0;
    const out: OutgoingMessage[] = [
      {
        subtopic: "telemetry",
        qos: 1,
        payload: {
          ts: ctx.now,
          lat: round(48.137 + Math.sin(ctx.seq / 500 + ctx.deviceId.length) * 0.05, 5),
          lon: round(11.575 + Math.cos(ctx.seq / 500 + ctx.deviceId.length) * 0.08, 5),
          speedKmh: speed,
          rpm: moving ? reading(ctx, 1900, 250, 0) : 750,
          fuelPct: round(Math.max(5, 80 - ctx.seq * 0.002), 1),
          coolantC: reading(ctx, 88, 1.5),
        },
      },
    ];
    if (ctx.random.chance(0.005))
      out.push({ subtopic: "diagnostics", qos: 1, payload: { ts: ctx.now, dtc: ctx.random.pick(["P0420", "P0171", "P0300"]) } });
    return out;
  },
};

export const behaviours: ReadonlyMap<string, Behaviour> = new Map(
  [environmentalSensor, smartMeter, infusionPump, patientMonitor, ipCamera, plc, vehicleTelematics].map((b) => [b.profile, b]),
);

export function behaviourOf(profile: string): Behaviour {
  const b = behaviours.get(profile);
  if (b === undefined) throw new Error(`no simulated behaviour for profile ${profile}`);
  return b;
}
