import { z } from "zod";

/** Thresholds of the rules; each may be narrowed or widened per profile (`detection.profiles`). */
export const RULE_DEFAULTS = Object.freeze({
  /** Connect refusals of one identity or one source address within `windowMs`. */
  bruteForce: Object.freeze({ count: 5, windowMs: 60_000 }),
  /** Sessions of one device opened within `windowMs` (reconnect flapping). */
  flapping: Object.freeze({ count: 8, windowMs: 60_000 }),
  /** Distinct denied SUBSCRIBE filters / topic probes within `windowMs`. */
  recon: Object.freeze({ count: 3, windowMs: 60_000 }),
  /** Messages dropped by the rate limit within `windowMs`. */
  flood: Object.freeze({ dropped: 50, windowMs: 10_000 }),
  /** Bytes over `windowMs` above `factor` x the baseline's upper band and above `minBytesPerSecond`. */
  exfiltration: Object.freeze({ factor: 6, minBytesPerSecond: 2048, windowMs: 10_000 }),
  /** Denials on other devices' topics (`cross_device_topic`) within `windowMs`. */
  lateral: Object.freeze({ count: 1, windowMs: 60_000 }),
  /** Any policy denials within `windowMs`. */
  denials: Object.freeze({ count: 5, windowMs: 300_000 }),
});

/** The payload drift test (payload-drift.ts, docs/adr/0004): CUSUM slack and thresholds, response. */
export const DRIFT_DEFAULTS = Object.freeze({
  enabled: true,
  noiseK: 1,
  noiseH: 16,
  levelK: 1.5,
  levelH: 16,
  action: "quarantine",
});

/** Defaults of the `detection` section, also what an absent section means. */
export const DETECTION_DEFAULTS = Object.freeze({
  enabled: true,
  windowMs: 10_000,
  warmupWindows: 12,
  peerWarmupWindows: 12,
  timeOfDay: true,
  anomalyScore: 8,
  anomalyWindows: 2,
  dedupMs: 300_000,
  idleEvictMs: 3_600_000,
  maxDevices: 200_000,
  queueCapacity: 4096,
  rules: RULE_DEFAULTS,
  drift: DRIFT_DEFAULTS,
  profiles: Object.freeze({}) as Readonly<Record<string, RuleOverrides>>,
});

const count = (d: number, what: string) => z.number().int().min(1).max(1_000_000).default(d).describe(what);
const windowMs = (d: number) =>
  z.number().int().min(100).max(86_400_000).default(d).describe("Sliding (exponentially decayed) window in ms.");

const rulesSchema = z
  .object({
    bruteForce: z
      .object({
        count: count(5, "Connect refusals of one identity or source that raise a brute-force finding."),
        windowMs: windowMs(60_000),
      })
      .strict()
      .default(RULE_DEFAULTS.bruteForce),
    flapping: z
      .object({
        count: count(8, "Sessions of one device within the window that raise a flapping finding."),
        windowMs: windowMs(60_000),
      })
      .strict()
      .default(RULE_DEFAULTS.flapping),
    recon: z
      .object({
        count: count(3, "Distinct denied filters/topics probed that raise a reconnaissance finding."),
        windowMs: windowMs(60_000),
      })
      .strict()
      .default(RULE_DEFAULTS.recon),
    flood: z
      .object({
        dropped: count(50, "Messages dropped by the rate limit that raise a flood finding."),
        windowMs: windowMs(10_000),
      })
      .strict()
      .default(RULE_DEFAULTS.flood),
    exfiltration: z
      .object({
        factor: z
          .number()
          .min(1)
          .max(1000)
          .default(6)
          .describe("Byte rate above this many times the device's (or its peers') baseline upper band raises exfiltration."),
        minBytesPerSecond: z
          .number()
          .min(0)
          .max(1e9)
          .default(2048)
          .describe("Byte rate under which exfiltration never fires (small devices)."),
        windowMs: windowMs(10_000),
      })
      .strict()
      .default(RULE_DEFAULTS.exfiltration),
    lateral: z
      .object({
        count: count(1, "Denials on other devices' topics that raise a lateral-movement finding."),
        windowMs: windowMs(60_000),
      })
      .strict()
      .default(RULE_DEFAULTS.lateral),
    denials: z
      .object({
        count: count(5, "Policy denials of one device that raise a repeated-denials finding."),
        windowMs: windowMs(300_000),
      })
      .strict()
      .default(RULE_DEFAULTS.denials),
  })
  .strict();

export type RuleSettings = z.infer<typeof rulesSchema>;

const n = z.number().min(0).max(1e9);
const w = z.number().int().min(100).max(86_400_000);
const overridesSchema = z
  .object({
    bruteForce: z.object({ count: n, windowMs: w }).partial().strict(),
    flapping: z.object({ count: n, windowMs: w }).partial().strict(),
    recon: z.object({ count: n, windowMs: w }).partial().strict(),
    flood: z.object({ dropped: n, windowMs: w }).partial().strict(),
    exfiltration: z.object({ factor: n, minBytesPerSecond: n, windowMs: w }).partial().strict(),
    lateral: z.object({ count: n, windowMs: w }).partial().strict(),
    denials: z.object({ count: n, windowMs: w }).partial().strict(),
  })
  .partial()
  .strict();
export type RuleOverrides = z.infer<typeof overridesSchema>;

/**
 * The detection module's slice of the configuration (STYLE habit 4): rule thresholds and
 * windows, the anomaly model's window and warm-up, state bounds. Validated once by the app.
 */
export const detectionConfigSchema = z
  .object({
    enabled: z.boolean().default(true).describe("Run the streaming detector (rules and anomaly model) on gateway traffic."),
    windowMs: z
      .number()
      .int()
      .min(100)
      .max(3_600_000)
      .default(DETECTION_DEFAULTS.windowMs)
      .describe("Feature window of the anomaly model: each device's features are scored once per window."),
    warmupWindows: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(DETECTION_DEFAULTS.warmupWindows)
      .describe("Windows a device is judged against its peer group before its own baseline takes over."),
    peerWarmupWindows: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(DETECTION_DEFAULTS.peerWarmupWindows)
      .describe(
        "Windows a new peer group's baseline is seeded from (medians, so one attacking device cannot set it); it judges its devices at once if they came from 8 devices or more, else after 3x as many.",
      ),
    timeOfDay: z
      .boolean()
      .default(DETECTION_DEFAULTS.timeOfDay)
      .describe(
        "Also judge message and byte rates against the device's (and its peers') usual rates at this hour of day (UTC buckets).",
      ),
    anomalyScore: z
      .number()
      .min(1)
      .max(1000)
      .default(DETECTION_DEFAULTS.anomalyScore)
      .describe("Robust deviation (in baseline MADs) of a feature that counts as anomalous."),
    anomalyWindows: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(DETECTION_DEFAULTS.anomalyWindows)
      .describe("Consecutive anomalous windows that raise an anomaly finding."),
    dedupMs: z
      .number()
      .int()
      .min(0)
      .max(86_400_000)
      .default(DETECTION_DEFAULTS.dedupMs)
      .describe("A rule raises at most one finding per device within this many ms."),
    idleEvictMs: z
      .number()
      .int()
      .min(1000)
      .max(30 * 86_400_000)
      .default(DETECTION_DEFAULTS.idleEvictMs)
      .describe("Per-device state of a device unseen for this long is dropped (its baseline is relearnt from its peers)."),
    maxDevices: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .default(DETECTION_DEFAULTS.maxDevices)
      .describe("Most devices (and sources) with detector state; the longest idle is evicted beyond it."),
    queueCapacity: z
      .number()
      .int()
      .min(16)
      .max(1_000_000)
      .default(DETECTION_DEFAULTS.queueCapacity)
      .describe("Closed feature windows queued for the model off the message path; a full queue is drained at once."),
    rules: rulesSchema.default(RULE_DEFAULTS).describe("Rule thresholds for every profile."),
    drift: z
      .object({
        enabled: z
          .boolean()
          .default(DRIFT_DEFAULTS.enabled)
          .describe("Read numeric fields of JSON payloads and test them for behaviour drift (noise and level CUSUMs)."),
        noiseK: z
          .number()
          .min(0)
          .max(100)
          .default(DRIFT_DEFAULTS.noiseK)
          .describe("Slack of the noise CUSUM, in standardised units per message (larger: less sensitive)."),
        noiseH: z
          .number()
          .min(1)
          .max(10_000)
          .default(DRIFT_DEFAULTS.noiseH)
          .describe("Noise CUSUM value that raises a behaviour_anomaly finding (payload_drift)."),
        levelK: z
          .number()
          .min(0)
          .max(100)
          .default(DRIFT_DEFAULTS.levelK)
          .describe("Slack of the two-sided level CUSUM, in pooled sigmas per message."),
        levelH: z
          .number()
          .min(1)
          .max(10_000)
          .default(DRIFT_DEFAULTS.levelH)
          .describe("Level CUSUM value that raises a behaviour_anomaly finding (payload_drift)."),
        action: z
          .enum(["none", "disconnect", "quarantine"])
          .default(DRIFT_DEFAULTS.action)
          .describe("What a payload drift finding does at once (the message that completed it is refused unless none)."),
      })
      .strict()
      .default(DRIFT_DEFAULTS)
      .describe("Behaviour drift from payload values."),
    profiles: z
      .record(z.string(), overridesSchema)
      .default({})
      .describe("Per-profile rule overrides (file only), e.g. { ip-camera: { exfiltration: { factor: 10 } } }."),
  })
  .strict();

export type DetectionConfig = z.infer<typeof detectionConfigSchema>;

/** A profile's rules: the defaults with that profile's overrides applied. */
export function rulesFor(config: Pick<DetectionConfig, "rules" | "profiles">, profile: string | null): RuleSettings {
  const override = profile === null ? undefined : config.profiles[profile];
  if (override === undefined) return config.rules;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(config.rules) as (keyof RuleSettings)[]) out[key] = { ...config.rules[key], ...override[key] };
  return out as RuleSettings;
}
