import { z } from "zod";

/** Defaults of the `assessment` section, also what an absent section means. */
export const ASSESSMENT_DEFAULTS = Object.freeze({
  checkIntervalSeconds: 3600,
  caExpiryWarningDays: 180,
  certExpiryWarningDays: 7,
  tokenMaxTtlHours: 168,
  tokenUnusedDays: 7,
  maxSbomBytes: 16 * 1024 * 1024,
  maxSbomComponents: 50_000,
  maxAdvisoryRecordBytes: 1024 * 1024,
});

/** The assessment module's slice of the configuration (STYLE habit 4). */
export const assessmentConfigSchema = z
  .object({
    checkIntervalSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(ASSESSMENT_DEFAULTS.checkIntervalSeconds)
      .describe("Run the audit checks and the vulnerability scan this often (0: only on demand, `vigil audit-checks run`)."),
    caExpiryWarningDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .default(ASSESSMENT_DEFAULTS.caExpiryWarningDays)
      .describe("Check ca-cert-expiring warns when a CA certificate expires within this many days (fails within 30)."),
    certExpiryWarningDays: z
      .number()
      .int()
      .min(1)
      .max(365)
      .default(ASSESSMENT_DEFAULTS.certExpiryWarningDays)
      .describe("Check device-cert-expiring warns when a device certificate expires within this many days."),
    tokenMaxTtlHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 365)
      .default(ASSESSMENT_DEFAULTS.tokenMaxTtlHours)
      .describe("Check enrollment-token-long-lived fails for unused claim tokens that live longer than this."),
    tokenUnusedDays: z
      .number()
      .int()
      .min(1)
      .max(365)
      .default(ASSESSMENT_DEFAULTS.tokenUnusedDays)
      .describe("Check enrollment-token-unused warns for valid claim tokens unused for longer than this."),
    maxSbomBytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(ASSESSMENT_DEFAULTS.maxSbomBytes)
      .describe("Largest CycloneDX SBOM accepted (bytes of JSON); also the body limit of the SBOM import route."),
    maxSbomComponents: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(ASSESSMENT_DEFAULTS.maxSbomComponents)
      .describe("Most components read from one SBOM; the rest are reported and skipped."),
    maxAdvisoryRecordBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(ASSESSMENT_DEFAULTS.maxAdvisoryRecordBytes)
      .describe("Largest single OSV record accepted; a larger one is reported (RECORD_TOO_LARGE) and the import goes on."),
  })
  .strict();

export type AssessmentConfig = z.infer<typeof assessmentConfigSchema>;
