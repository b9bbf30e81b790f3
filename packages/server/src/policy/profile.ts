import { z } from "zod";

/**
 * A device profile: what a kind of device needs to do on the MQTT gateway, declared by its
 * maker or operator as data, in the spirit of IETF MUD (RFC 8520, where a manufacturer
 * declares the device's intended communication). Everything not declared is denied.
 *
 * Topic templates are MQTT topics whose whole levels may be the placeholders `{device}` (the
 * device's id) or `{profile}` (this profile's id). Publish templates never hold wildcards
 * ([MQTT-3.3.2-2]); subscribe templates may hold `+` and `#` only when the profile sets
 * `subscribeWildcards: true`, and never in the first level or in a device-id position.
 * The `vigil/` namespace is the platform's: every device may subscribe `vigil/{device}/cmd`
 * and publish `vigil/{device}/ack` whatever its profile says, and no profile may name it.
 */

export const VERTICALS = ["healthcare", "industrial", "smart-city", "automotive", "energy", "generic"] as const;
export type Vertical = (typeof VERTICALS)[number];

export type Qos = 0 | 1 | 2;

/** Largest MQTT payload: the Remaining Length ceiling, MQTT 3.1.1 §2.2.3. */
export const MQTT_MAX_PAYLOAD_BYTES = 268_435_455;

const PROFILE_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Literal template levels: conservative on purpose (profiles are data from outside). */
const LITERAL_LEVEL = /^[A-Za-z0-9_.:-]+$/;
const PLACEHOLDERS = new Set(["{device}", "{profile}"]);
const MAX_TEMPLATES = 64;
const MAX_TEMPLATE_CHARS = 200;

/** Problems of one template, whatever the profile's other fields say. */
export function templateProblems(template: string, kind: "publish" | "subscribe"): string[] {
  const problems: string[] = [];
  if (template.length === 0) return ["a topic template must not be empty"];
  if (template.length > MAX_TEMPLATE_CHARS) problems.push(`a topic template is at most ${MAX_TEMPLATE_CHARS} characters`);
  const levels = template.split("/");
  const first = levels[0] ?? "";
  if (first.startsWith("$")) problems.push("topics starting with '$' are the broker's ($SYS) and never allowed");
  if (first === "vigil") {
    problems.push(
      "the vigil/ namespace is the platform's control channel; every device already gets vigil/{device}/cmd and vigil/{device}/ack",
    );
  }
  if (first === "devices" && levels[1] !== "{device}") {
    problems.push("topics under devices/ must name the device itself: devices/{device}/...");
  }
  levels.forEach((level, index) => {
    if (level === "+" || level === "#") {
      if (kind === "publish") problems.push("wildcards (+, #) are never allowed in publish templates [MQTT-3.3.2-2]");
      else if (index === 0) problems.push("a wildcard in the first level would reach other devices' topics");
      else if (level === "#" && index !== levels.length - 1) problems.push("'#' must be the last level [MQTT-4.7.1-2]");
    } else if (level.startsWith("{") || level.endsWith("}")) {
      if (!PLACEHOLDERS.has(level)) problems.push(`unknown placeholder ${JSON.stringify(level)}; use {device} or {profile}`);
    } else if (level.length === 0) {
      problems.push("empty levels ('//', or a leading or trailing '/') are not allowed");
    } else if (level.includes("+") || level.includes("#")) {
      problems.push(`wildcards must fill a whole level [MQTT-4.7.1-3]: ${JSON.stringify(level)}`);
    } else if (!LITERAL_LEVEL.test(level) && !(index === 0 && level.startsWith("$"))) {
      problems.push(`level ${JSON.stringify(level)} may only hold letters, digits, '_', '.', ':' and '-'`);
    }
  });
  return [...new Set(problems)];
}

function template(kind: "publish" | "subscribe") {
  return z.string().superRefine((value, ctx) => {
    for (const message of templateProblems(value, kind)) ctx.addIssue({ code: "custom", message });
  });
}

function templateList(kind: "publish" | "subscribe") {
  return z
    .array(template(kind))
    .max(MAX_TEMPLATES)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((value, index) => {
        if (seen.has(value))
          ctx.addIssue({ code: "custom", message: `duplicate template ${JSON.stringify(value)}`, path: [index] });
        seen.add(value);
      });
    });
}

export const profileSchema = z
  .object({
    id: z
      .string()
      .regex(PROFILE_ID, "must be 1-64 characters: lowercase letters, digits and '-', starting with a letter or digit"),
    description: z.string().min(1).max(500),
    vertical: z.enum(VERTICALS),
    safetyCritical: z.boolean().describe("A malfunction or cut-off can harm people (IEC 80001-1, IEC 61508 sense)."),
    publish: templateList("publish"),
    subscribe: templateList("subscribe"),
    subscribeWildcards: z
      .boolean()
      .default(false)
      .describe("Allows '+' and '#' in subscribe templates; without it they are an error."),
    maxMessagesPerSecond: z.number().positive().max(10_000).describe("Sustained inbound rate (token bucket refill)."),
    burst: z.number().int().min(1).max(100_000).describe("Messages a device may send at once (token bucket size)."),
    maxPayloadBytes: z.number().int().min(1).max(MQTT_MAX_PAYLOAD_BYTES),
    maxQos: z.literal([0, 1, 2], { error: "must be 0, 1 or 2" }),
    retainAllowed: z.boolean(),
    sensitivePayload: z.boolean().describe("Payloads hold personal, health or location data: encrypt at rest."),
  })
  .strict();

type ParsedProfile = z.infer<typeof profileSchema>;

/** A validated, frozen profile. */
export type Profile = {
  readonly [K in keyof ParsedProfile]: ParsedProfile[K] extends readonly (infer T)[] ? readonly T[] : ParsedProfile[K];
};

/** One problem in a profile: where (a dotted path, `(root)` for the whole) and what. */
export interface ProfileIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export type ProfileCheck =
  { readonly ok: true; readonly profile: Profile } | { readonly ok: false; readonly issues: ProfileIssue[] };

/**
 * Validates a parsed value (from YAML or JSON) and reports every problem at once: zod's
 * (types, unknown keys, missing fields, template syntax) and the cross-field ones.
 */
export function checkProfile(value: unknown): ProfileCheck {
  const issues: ProfileIssue[] = [];
  const parsed = profileSchema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((p) => (typeof p === "number" ? p : String(p)));
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) issues.push({ path: [...path, key], message: "unknown key" });
      } else if (issue.code === "invalid_type" && isMissing(value, path)) {
        issues.push({ path, message: "required field is missing" });
      } else {
        issues.push({ path, message: issue.message });
      }
    }
  }
  issues.push(...crossFieldIssues(value));
  if (issues.length > 0 || !parsed.success) return { ok: false, issues };
  return { ok: true, profile: deepFreeze(parsed.data) };
}

/** Wildcards in subscribe templates need the profile's explicit consent. */
function crossFieldIssues(value: unknown): ProfileIssue[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  const raw = value as Record<string, unknown>;
  if (raw.subscribeWildcards === true || !Array.isArray(raw.subscribe)) return [];
  const issues: ProfileIssue[] = [];
  raw.subscribe.forEach((entry, index) => {
    if (typeof entry === "string" && /(^|\/)[+#](\/|$)/.test(entry)) {
      issues.push({ path: ["subscribe", index], message: "wildcards in subscribe templates need `subscribeWildcards: true`" });
    }
  });
  return issues;
}

function isMissing(root: unknown, path: readonly (string | number)[]): boolean {
  let node = root;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== "object" || node === null) return false;
    node = (node as Record<string | number, unknown>)[key];
  }
  const last = path[path.length - 1];
  return last !== undefined && typeof node === "object" && node !== null && !Array.isArray(node) && !Object.hasOwn(node, last);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
