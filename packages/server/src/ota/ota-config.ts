import { z } from "zod";

/** Defaults of the `ota` section, also what an absent section means. */
export const OTA_DEFAULTS = Object.freeze({
  maxImageBytes: 64 * 1024 * 1024,
  rootExpiryDays: 365,
  targetsExpiryDays: 30,
  tickMs: 1000,
});

/** The OTA module's slice of the configuration (STYLE habit 4). */
export const otaConfigSchema = z
  .object({
    maxImageBytes: z
      .number()
      .int()
      .min(1024)
      .max(2 * 1024 * 1024 * 1024)
      .default(OTA_DEFAULTS.maxImageBytes)
      .describe("Largest firmware image `vigil ota artifact add` accepts, in bytes."),
    rootExpiryDays: z
      .number()
      .int()
      .min(7)
      .max(3650)
      .default(OTA_DEFAULTS.rootExpiryDays)
      .describe("Lifetime of OTA root metadata; Vigil signs a new root version when a quarter of it is left."),
    targetsExpiryDays: z
      .number()
      .int()
      .min(1)
      .max(365)
      .default(OTA_DEFAULTS.targetsExpiryDays)
      .describe(
        "Lifetime of OTA targets metadata; re-signed (new version) when half of it is left. Devices refuse expired metadata.",
      ),
    tickMs: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(OTA_DEFAULTS.tickMs)
      .describe("How often the campaign engine advances running campaigns (timeouts, waves, rate limit)."),
  })
  .strict();

export type OtaConfig = Readonly<z.infer<typeof otaConfigSchema>>;
