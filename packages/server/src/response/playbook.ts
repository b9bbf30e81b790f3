import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { VigilError } from "../core/index.js";
import { VERTICALS, VERTICAL_IDS, type VerticalId } from "../trust/index.js";
import { SEVERITY_RANK, type IncidentSeverity } from "./incident.js";

const SEVERITIES = ["low", "medium", "high", "critical"] as const;
const CATEGORIES = ["exfiltration", "flood", "scanning", "brute-force", "identity", "anomaly", "policy", "other"] as const;
const duration = z
  .number()
  .int()
  .min(1000)
  .max(90 * 24 * 3_600_000);

/** One step of a playbook. Disruptive ones (cutting a device off) may need an operator's approval. */
/** A release condition besides expiry: clean re-attestation, or patched firmware with a clean assessment. */
const releaseOn = z.enum(["reattestation", "patched"]).optional();
export const actionSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("throttle"), expiresAfterMs: duration.optional(), releaseOn }).strict(),
  z.object({ type: z.literal("deny"), expiresAfterMs: duration.optional(), releaseOn }).strict(),
  z.object({ type: z.literal("quarantine"), expiresAfterMs: duration.optional(), releaseOn }).strict(),
  z.object({ type: z.literal("disconnect") }).strict(),
  z.object({ type: z.literal("revoke") }).strict(),
  z.object({ type: z.literal("reattest") }).strict(),
  /** Revoke, and hand the device a one-time token over its control channel to enroll a NEW key. */
  z
    .object({
      type: z.literal("reprovision"),
      tokenTtlMs: duration.optional(),
      ackTimeoutMs: z.number().int().min(100).max(60_000).optional(),
    })
    .strict(),
  /** OTA: back to the version before the suspect (uncommitted) install. */
  z.object({ type: z.literal("rollback") }).strict(),
  z.object({ type: z.literal("notify"), note: z.string().max(500).optional() }).strict(),
]);
export type PlaybookAction = z.infer<typeof actionSchema>;
export type ActionType = PlaybookAction["type"];

/** Actions that cut a device off (fully, or from all but its control channel). */
export const DISRUPTIVE: ReadonlySet<ActionType> = new Set([
  "deny",
  "quarantine",
  "disconnect",
  "revoke",
  "reattest",
  "reprovision",
  "rollback",
]);

export const playbookSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be lowercase letters, digits and dashes (at most 64)"),
    description: z.string().max(500).default(""),
    match: z
      .object({
        rules: z.array(z.string().min(1).max(64)).min(1).optional(),
        categories: z.array(z.enum(CATEGORIES)).min(1).optional(),
        minSeverity: z.enum(SEVERITIES).default("low"),
        profiles: z.array(z.string().min(1).max(64)).min(1).optional(),
        verticals: z.array(z.enum(VERTICAL_IDS)).min(1).optional(),
      })
      .strict()
      .default({ minSeverity: "low" }),
    actions: z.array(actionSchema).min(1).max(20),
    approval: z
      .object({
        /** `safety-critical`: disruptive actions on a safety-critical profile (or in a vertical that says so) wait. */
        require: z.enum(["never", "safety-critical", "always"]).default("safety-critical"),
        timeoutMs: duration.optional(),
        /** The safe default when nobody answers in time. */
        onTimeout: z.enum(["skip", "throttle", "proceed"]).default("throttle"),
      })
      .strict()
      .default({ require: "safety-critical", onTimeout: "throttle" }),
  })
  .strict();
export type Playbook = z.infer<typeof playbookSchema>;

/**
 * Parses playbooks from YAML or JSON text: one playbook, a list, or `{playbooks: [...]}`.
 * Every problem is reported at once in one PLAYBOOK_INVALID error (`source:path: message` lines).
 */
export function parsePlaybooks(text: string, source = "playbooks"): Playbook[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new VigilError("PLAYBOOK_INVALID", `${source}: not YAML or JSON: ${(error as Error).message.split("\n")[0]}`, {
      cause: error,
      hint: "A playbook file is YAML or JSON: one playbook, a list of them, or {playbooks: [...]}.",
    });
  }
  // Validate the list shape first so the problems name their playbook's index.
  const list = Array.isArray(raw)
    ? raw
    : typeof raw === "object" && raw !== null && "playbooks" in raw && Array.isArray(raw.playbooks)
      ? (raw as { playbooks: unknown[] }).playbooks
      : [raw];
  const problems: string[] = [];
  const parsed: Playbook[] = [];
  list.forEach((item, index) => {
    const result = playbookSchema.safeParse(item);
    const prefix = list.length > 1 || Array.isArray(raw) || raw !== item ? `[${index}]` : "";
    if (!result.success) {
      for (const issue of result.error.issues) {
        const path = [prefix, ...issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))]
          .join("")
          .replace(/^\./, "");
        problems.push(`${source}:${path || "(root)"}: ${issue.message}`);
      }
    } else parsed.push(result.data);
  });
  const seen = new Set<string>();
  for (const p of parsed) {
    if (seen.has(p.id)) problems.push(`${source}: playbook id ${p.id} is used twice`);
    seen.add(p.id);
  }
  if (problems.length > 0) {
    throw new VigilError("PLAYBOOK_INVALID", `${problems.length} problem(s) in ${source}:\n${problems.join("\n")}`, {
      hint: "Fix every line listed; docs/response.md describes the playbook format.",
    });
  }
  return parsed;
}

/** What a playbook is matched against. */
export interface MatchInput {
  readonly rule: string;
  readonly category: string;
  readonly severity: IncidentSeverity;
  readonly profile: string | null;
  readonly vertical: VerticalId;
}

export function matches(p: Playbook, m: MatchInput): boolean {
  const c = p.match;
  if (SEVERITY_RANK[m.severity] < SEVERITY_RANK[c.minSeverity]) return false;
  if (c.rules !== undefined && !c.rules.includes(m.rule)) return false;
  if (c.categories !== undefined && !(c.categories as readonly string[]).includes(m.category)) return false;
  if (c.profiles !== undefined && (m.profile === null || !c.profiles.includes(m.profile))) return false;
  if (c.verticals !== undefined && !c.verticals.includes(m.vertical)) return false;
  return true;
}

/**
 * The defaults of each vertical (from trust's `VERTICALS`): high-severity findings are contained
 * the vertical's way (`quarantine` for an hour, or `throttle` where cutting off is a hazard),
 * a cloned identity or replayed claim token is cut off, everything is notified. Disruptive
 * actions wait for approval where the vertical says so, else on safety-critical profiles.
 */
export function defaultPlaybooks(): Playbook[] {
  const out: Playbook[] = [];
  for (const id of VERTICAL_IDS) {
    const v = VERTICALS[id];
    const approval = {
      require: v.enforcement.disruptiveActionsNeedApproval ? ("always" as const) : ("safety-critical" as const),
      onTimeout: "throttle" as const,
    };
    out.push({
      id: `${id}-identity`,
      description: `${v.title}: a cloned identity or replayed claim token is cut off until it re-attests.`,
      match: { rules: ["identity_cloned", "token_replayed"], minSeverity: "high", verticals: [id] },
      actions: [{ type: "disconnect" }, { type: "quarantine" }, { type: "notify" }],
      approval,
    });
    const contain: PlaybookAction =
      v.enforcement.onExfiltration === "quarantine"
        ? { type: "quarantine", expiresAfterMs: 3_600_000 }
        : { type: "throttle", expiresAfterMs: 3_600_000 };
    out.push({
      id: `${id}-contain`,
      description: `${v.title}: high-severity findings are contained (${contain.type}, 1 h) and notified.`,
      match: { minSeverity: "high", verticals: [id] },
      actions: [contain, { type: "notify" }],
      approval,
    });
    out.push({
      id: `${id}-notify`,
      description: `${v.title}: every other finding is recorded and notified.`,
      match: { minSeverity: "low", verticals: [id] },
      actions: [{ type: "notify" }],
      approval,
    });
  }
  return out;
}
