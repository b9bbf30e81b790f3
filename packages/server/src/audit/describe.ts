import { canonicalJson } from "../identity/index.js";
import type { SignalMap, SignalName } from "../signals/index.js";
import type { AuditOutcome } from "./ports.js";

/** Who did what to whom, and how it ended: the columns an auditor filters on. */
export interface AuditFacts {
  readonly actor: string;
  readonly target: string | null;
  readonly outcome: AuditOutcome;
}

type Describe<K extends SignalName> = (payload: SignalMap[K]) => AuditFacts;

/**
 * How each known signal reads in the audit log. Signals without an entry here are still
 * recorded (every signal is), with the generic reading of `describeSignal`; add an entry
 * when a new signal's actor or target would otherwise be misread.
 */
const known: { [K in SignalName]?: Describe<K> } = {
  "platform.started": () => ({ actor: "system", target: null, outcome: "success" }),
  "platform.stopping": () => ({ actor: "system", target: null, outcome: "success" }),
  "operator.created": (p) => ({ actor: p.by === "bootstrap" ? "system" : p.by, target: p.operator, outcome: "success" }),
  "operator.password_changed": (p) => ({ actor: p.operator, target: p.operator, outcome: "success" }),
  "auth.succeeded": (p) => ({ actor: p.operator, target: p.tokenId, outcome: "success" }),
  // The name typed at a failed login is a claim, not an identity: it is the target.
  "auth.failed": (p) => ({ actor: "anonymous", target: p.username, outcome: "failure" }),
  "auth.denied": (p) => ({ actor: p.tokenId ?? "anonymous", target: p.route, outcome: "denied" }),
  "auth.locked": (p) => ({ actor: "system", target: p.target, outcome: "denied" }),
  "token.issued": (p) => ({ actor: p.operator, target: p.tokenId, outcome: "success" }),
  "token.revoked": (p) => ({ actor: p.operator, target: p.tokenId, outcome: "success" }),
  "device.registered": (p) => ({ actor: p.by, target: p.device, outcome: "success" }),
};

function field(payload: unknown, ...names: string[]): string | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  for (const name of names) {
    const value = (payload as Record<string, unknown>)[name];
    if (typeof value === "string" && value.length > 0) return value;
  }
  return undefined;
}

export function describeSignal(name: string, payload: unknown): AuditFacts {
  const describe = (known as Record<string, ((p: unknown) => AuditFacts) | undefined>)[name];
  if (describe !== undefined) return describe(payload);
  return {
    actor: field(payload, "by", "operator", "actor") ?? "system",
    target: field(payload, "device", "target", "operator", "tokenId") ?? null,
    outcome: /[._]failed$/.test(name) ? "failure" : /[._](denied|rejected|blocked|refused)$/.test(name) ? "denied" : "success",
  };
}

/** Member names whose values are never recorded, at any depth (STYLE habit 10). */
const SECRET_NAME =
  /^(password|new_?password|current_?password|passphrase|secret|client_?secret|token|access_?token|refresh_?token|api_?key|private_?key|authorization|cookie|otp|totp|recovery_?codes?)$/i;
const MAX_DEPTH = 8;
/** Larger details are replaced by a marker: the log is for facts, not payload dumps. */
export const MAX_DETAILS_BYTES = 16 * 1024;

function clean(value: unknown, depth: number): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value !== "object") return undefined; // functions, symbols, undefined
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (Array.isArray(value)) return value.map((v) => clean(v, depth + 1) ?? null);
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_NAME.test(key)) {
      out[key] = "[redacted]";
      continue;
    }
    const c = clean(v, depth + 1);
    if (c !== undefined) out[key] = c;
  }
  return out;
}

/**
 * The details of an entry as canonical JSON: a copy of the payload taken at emission time,
 * with secret-named members redacted, non-JSON values made JSON, and a size cap.
 */
export function auditDetails(payload: unknown): string {
  const cleaned = clean(payload, 0);
  const object =
    typeof cleaned === "object" && cleaned !== null && !Array.isArray(cleaned) ? cleaned : { value: cleaned ?? null };
  const text = canonicalJson(object);
  if (Buffer.byteLength(text, "utf8") <= MAX_DETAILS_BYTES) return text;
  return canonicalJson({ truncated: true, bytes: Buffer.byteLength(text, "utf8") });
}
