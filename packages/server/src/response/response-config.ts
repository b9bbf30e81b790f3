import { z } from "zod";

/** Defaults of the `response` section, also what an absent section means. */
export const RESPONSE_DEFAULTS = Object.freeze({
  enabled: true,
  groupWindowMs: 30 * 60_000,
  approvalTimeoutMs: 15 * 60_000,
  tickMs: 1000,
  webhookMaxAttempts: 5,
  webhookBackoffMs: 1000,
  webhookTimeoutMs: 5000,
  syslogPort: 514,
  syslogTransport: "udp" as const,
  syslogFacility: 13,
});

/** The response module's slice of the configuration (STYLE habit 4). */
export const responseConfigSchema = z
  .object({
    enabled: z.boolean().default(RESPONSE_DEFAULTS.enabled).describe("Open incidents from findings and run playbooks."),
    groupWindowMs: z
      .number()
      .int()
      .min(1000)
      .max(30 * 24 * 3_600_000)
      .default(RESPONSE_DEFAULTS.groupWindowMs)
      .describe(
        "Evidence about a device within this long of its open incident's last evidence joins that incident instead of opening a new one.",
      ),
    approvalTimeoutMs: z
      .number()
      .int()
      .min(1000)
      .max(7 * 24 * 3_600_000)
      .default(RESPONSE_DEFAULTS.approvalTimeoutMs)
      .describe(
        "How long a disruptive action waits for an operator's approval when its playbook does not say; then the safe default applies.",
      ),
    tickMs: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(RESPONSE_DEFAULTS.tickMs)
      .describe("How often approvals and mitigations are checked for expiry."),
    playbooksFile: z
      .string()
      .min(1)
      .optional()
      .describe("A YAML or JSON file of playbooks, tried before the defaults of each vertical."),
    webhookUrl: z.string().url().optional().describe("Where incident events are POSTed (signed, HMAC-SHA256)."),
    webhookSecretFile: z
      .string()
      .min(1)
      .optional()
      .describe("File holding the webhook's HMAC secret (required with webhookUrl)."),
    webhookMaxAttempts: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(RESPONSE_DEFAULTS.webhookMaxAttempts)
      .describe("Deliveries tried per event before it goes to the dead-letter list."),
    webhookBackoffMs: z
      .number()
      .int()
      .min(1)
      .max(3_600_000)
      .default(RESPONSE_DEFAULTS.webhookBackoffMs)
      .describe("Wait before the first retry; doubles with each further retry."),
    webhookTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(RESPONSE_DEFAULTS.webhookTimeoutMs)
      .describe("A delivery not answered within this long counts as failed."),
    siemFile: z
      .string()
      .min(1)
      .optional()
      .describe("Append every response event to this file as JSON lines (for a SIEM to tail)."),
    syslogHost: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe("Send every response event to this syslog collector (RFC 5424, CEF payload)."),
    syslogPort: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(RESPONSE_DEFAULTS.syslogPort)
      .describe("The syslog collector's port."),
    syslogTransport: z
      .enum(["udp", "tcp"])
      .default(RESPONSE_DEFAULTS.syslogTransport)
      .describe("UDP (RFC 5426) or TCP with octet-counting framing (RFC 6587)."),
    syslogFacility: z
      .number()
      .int()
      .min(0)
      .max(23)
      .default(RESPONSE_DEFAULTS.syslogFacility)
      .describe("RFC 5424 facility code of the messages (13: log audit; 16-23: local0-7)."),
    syslogHostname: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe("The HOSTNAME field of the messages (default: this machine's name)."),
  })
  .strict()
  .refine((c) => c.webhookUrl === undefined || c.webhookSecretFile !== undefined, {
    message: "webhookUrl needs webhookSecretFile",
    path: ["webhookSecretFile"],
  });

export type ResponseConfig = z.infer<typeof responseConfigSchema>;
