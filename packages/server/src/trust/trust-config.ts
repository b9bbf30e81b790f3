import { z } from "zod";
import { VERTICAL_IDS } from "./verticals.js";

/** Defaults of the `trust` section, also what an absent section means. */
export const TRUST_DEFAULTS = Object.freeze({
  vertical: "auto" as const,
  thresholds: Object.freeze({ restricted: 25, standard: 50, trusted: 85 }),
  recoveryPointsPerCleanDay: 10,
  restrictDebt: 30,
  quarantineDebt: 60,
  exfiltrationHoldHours: 72,
  observeEverySeconds: 60,
  maxCreditPerObservationSeconds: 3600,
  historyLimit: 50,
});

const threshold = (name: string, fallback: number) =>
  z.number().min(0).max(100).default(fallback).describe(`Lowest trust score of the ${name} tier (0-100).`);

/**
 * The trust module's slice of the configuration (STYLE habit 4): tier thresholds, the
 * vertical, how fast clean observed time pays findings back. Validated once by the app.
 */
export const trustConfigSchema = z
  .object({
    vertical: z
      .enum(["auto", ...VERTICAL_IDS])
      .default(TRUST_DEFAULTS.vertical)
      .describe(
        "Vertical profile weighting the CIA outcomes and enforcement (docs/trust.md). auto: each device's profile's vertical (energy -> industrial, generic -> default).",
      ),
    thresholds: z
      .object({
        restricted: threshold("restricted", TRUST_DEFAULTS.thresholds.restricted),
        standard: threshold("standard", TRUST_DEFAULTS.thresholds.standard),
        trusted: threshold("trusted", TRUST_DEFAULTS.thresholds.trusted),
      })
      .strict()
      .default(TRUST_DEFAULTS.thresholds)
      .refine((t) => t.restricted < t.standard && t.standard < t.trusted, {
        message: "thresholds must increase: restricted < standard < trusted",
      }),
    recoveryPointsPerCleanDay: z
      .number()
      .min(0)
      .max(1000)
      .default(TRUST_DEFAULTS.recoveryPointsPerCleanDay)
      .describe(
        "Finding and denial debt paid back per day of clean time observed by the gateway (0: only evidence such as re-attestation recovers).",
      ),
    restrictDebt: z
      .number()
      .min(1)
      .max(1000)
      .default(TRUST_DEFAULTS.restrictDebt)
      .describe("Finding debt at which a device is held at the restricted tier whatever its score (a high finding is 35)."),
    quarantineDebt: z
      .number()
      .min(1)
      .max(1000)
      .default(TRUST_DEFAULTS.quarantineDebt)
      .describe("Finding debt at which a device is quarantined whatever its score (two high findings are 70)."),
    exfiltrationHoldHours: z
      .number()
      .min(0)
      .max(24 * 365)
      .default(TRUST_DEFAULTS.exfiltrationHoldHours)
      .describe(
        "Clean observed hours after an exfiltration finding before the vertical's enforcement (quarantine or throttle) lifts.",
      ),
    observeEverySeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(TRUST_DEFAULTS.observeEverySeconds)
      .describe("How often connected devices' clean time is credited and time-dependent factors (certificate expiry) re-scored."),
    maxCreditPerObservationSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(TRUST_DEFAULTS.maxCreditPerObservationSeconds)
      .describe("Most clean time credited by one observation: time Vigil did not watch (it was stopped) is never credited."),
    historyLimit: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(TRUST_DEFAULTS.historyLimit)
      .describe("Score changes kept per device (older ones are deleted)."),
  })
  .strict()
  .refine((t) => t.restrictDebt < t.quarantineDebt, { message: "restrictDebt must be below quarantineDebt" });

export type TrustConfig = Readonly<z.infer<typeof trustConfigSchema>>;
