/**
 * CVSS base scores from vectors. v3.0 and v3.1 follow the FIRST specification's equations
 * (CVSS v3.1 Specification, §7.1 and Appendix A for Roundup); v2 follows the CVSS v2 guide
 * §3.2.1. CVSS v4.0 vectors are validated and kept, but their score comes from a lookup of
 * 270 macro-vectors that Vigil does not carry: a v4-only advisory takes the score or rating
 * its publisher gave (see `severityOf` in advisory-matching.ts).
 */

export type Severity = "critical" | "high" | "medium" | "low" | "none" | "unknown";

export const SEVERITY_ORDER: readonly Severity[] = ["critical", "high", "medium", "low", "none", "unknown"];

export class CvssError extends Error {
  readonly code = "CVSS_INVALID" as const;
  constructor(message: string) {
    super(message);
    this.name = "CvssError";
  }
}

/** The qualitative rating of a base score (CVSS v3.1 §5; v4 uses the same bands). */
export function severityOfScore(score: number): Severity {
  if (score === 0) return "none";
  if (score < 4) return "low";
  if (score < 7) return "medium";
  if (score < 9) return "high";
  return "critical";
}

const V3_BASE: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  PR: { N: 0.85, L: 0.62, H: 0.27 },
  UI: { N: 0.85, R: 0.62 },
  S: { U: 0, C: 1 },
  C: { H: 0.56, L: 0.22, N: 0 },
  I: { H: 0.56, L: 0.22, N: 0 },
  A: { H: 0.56, L: 0.22, N: 0 },
};
/** Temporal and environmental metrics: allowed in a vector, not part of the base score. */
const V3_OTHER: Readonly<Record<string, readonly string[]>> = {
  E: ["X", "U", "P", "F", "H"],
  RL: ["X", "O", "T", "W", "U"],
  RC: ["X", "U", "R", "C"],
  CR: ["X", "L", "M", "H"],
  IR: ["X", "L", "M", "H"],
  AR: ["X", "L", "M", "H"],
  MAV: ["X", "N", "A", "L", "P"],
  MAC: ["X", "L", "H"],
  MPR: ["X", "N", "L", "H"],
  MUI: ["X", "N", "R"],
  MS: ["X", "U", "C"],
  MC: ["X", "N", "L", "H"],
  MI: ["X", "N", "L", "H"],
  MA: ["X", "N", "L", "H"],
};

/** CVSS v3.1 Appendix A: Roundup without floating-point surprises. */
function roundup31(value: number): number {
  const i = Math.round(value * 100_000);
  return i % 10_000 === 0 ? i / 100_000 : (Math.floor(i / 10_000) + 1) / 10;
}

function metrics(parts: readonly string[], vector: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of parts) {
    const [key, value, extra] = part.split(":");
    if (key === undefined || value === undefined || extra !== undefined || key === "" || value === "") {
      throw new CvssError(`${JSON.stringify(vector.slice(0, 100))}: ${JSON.stringify(part)} is not METRIC:VALUE`);
    }
    if (out.has(key)) throw new CvssError(`${JSON.stringify(vector.slice(0, 100))}: metric ${key} appears twice`);
    out.set(key, value);
  }
  return out;
}

/** Base score of a CVSS v3.0/v3.1 vector (`CVSS:3.1/AV:N/AC:L/...`). Throws CvssError. */
export function cvss3BaseScore(vector: string): number {
  const m = /^CVSS:3\.([01])\/(.+)$/.exec(vector.trim());
  if (m === null) throw new CvssError(`${JSON.stringify(vector.slice(0, 100))} is not a CVSS v3.0/v3.1 vector`);
  const minor = m[1];
  const given = metrics((m[2] as string).split("/"), vector);
  const value: Record<string, number> = {};
  for (const [key, table] of Object.entries(V3_BASE)) {
    const v = given.get(key);
    if (v === undefined) throw new CvssError(`${JSON.stringify(vector.slice(0, 100))}: base metric ${key} is missing`);
    const n = table[v];
    if (n === undefined) throw new CvssError(`${JSON.stringify(vector.slice(0, 100))}: ${key}:${v} is not a valid value`);
    value[key] = n;
  }
  for (const [key, v] of given) {
    if (key in V3_BASE) continue;
    if (!(V3_OTHER[key] ?? []).includes(v)) {
      throw new CvssError(`${JSON.stringify(vector.slice(0, 100))}: ${key}:${v} is not a CVSS v3 metric`);
    }
  }
  const changed = value.S === 1;
  const pr = given.get("PR") === "L" && changed ? 0.68 : given.get("PR") === "H" && changed ? 0.5 : (value.PR as number);
  const iss = 1 - (1 - (value.C as number)) * (1 - (value.I as number)) * (1 - (value.A as number));
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const exploitability = 8.22 * (value.AV as number) * (value.AC as number) * pr * (value.UI as number);
  if (impact <= 0) return 0;
  const raw = changed ? Math.min(1.08 * (impact + exploitability), 10) : Math.min(impact + exploitability, 10);
  return minor === "1" ? roundup31(raw) : Math.ceil(raw * 10) / 10;
}

const V2_BASE: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  AV: { L: 0.395, A: 0.646, N: 1.0 },
  AC: { H: 0.35, M: 0.61, L: 0.71 },
  Au: { M: 0.45, S: 0.56, N: 0.704 },
  C: { N: 0, P: 0.275, C: 0.66 },
  I: { N: 0, P: 0.275, C: 0.66 },
  A: { N: 0, P: 0.275, C: 0.66 },
};
const V2_OTHER = new Set(["E", "RL", "RC", "CDP", "TD", "CR", "IR", "AR"]);

/** Base score of a CVSS v2 vector (`AV:N/AC:L/Au:N/C:P/I:P/A:P`, optionally in parentheses). */
export function cvss2BaseScore(vector: string): number {
  const body = vector
    .trim()
    .replace(/^\((.*)\)$/, "$1")
    .replace(/^CVSS:2\.0\//, "");
  const given = metrics(body.split("/"), vector);
  const value: Record<string, number> = {};
  for (const [key, table] of Object.entries(V2_BASE)) {
    const v = given.get(key);
    const n = v === undefined ? undefined : table[v];
    if (n === undefined) throw new CvssError(`${JSON.stringify(vector.slice(0, 100))}: base metric ${key} is missing or invalid`);
    value[key] = n;
  }
  for (const key of given.keys()) {
    if (!(key in V2_BASE) && !V2_OTHER.has(key))
      throw new CvssError(`${JSON.stringify(vector.slice(0, 100))}: unknown metric ${key}`);
  }
  const impact = 10.41 * (1 - (1 - (value.C as number)) * (1 - (value.I as number)) * (1 - (value.A as number)));
  const exploitability = 20 * (value.AV as number) * (value.AC as number) * (value.Au as number);
  const f = impact === 0 ? 0 : 1.176;
  return Math.round((0.6 * impact + 0.4 * exploitability - 1.5) * f * 10) / 10;
}

const V4_BASE: Readonly<Record<string, readonly string[]>> = {
  AV: ["N", "A", "L", "P"],
  AC: ["L", "H"],
  AT: ["N", "P"],
  PR: ["N", "L", "H"],
  UI: ["N", "P", "A"],
  VC: ["H", "L", "N"],
  VI: ["H", "L", "N"],
  VA: ["H", "L", "N"],
  SC: ["H", "L", "N"],
  SI: ["H", "L", "N"],
  SA: ["H", "L", "N"],
};

/** Checks that a CVSS v4.0 vector has every base metric with a valid value. Throws CvssError. */
export function validateCvss4(vector: string): void {
  const m = /^CVSS:4\.0\/(.+)$/.exec(vector.trim());
  if (m === null) throw new CvssError(`${JSON.stringify(vector.slice(0, 100))} is not a CVSS v4.0 vector`);
  const given = metrics((m[1] as string).split("/"), vector);
  for (const [key, values] of Object.entries(V4_BASE)) {
    const v = given.get(key);
    if (v === undefined || !values.includes(v)) {
      throw new CvssError(`${JSON.stringify(vector.slice(0, 100))}: base metric ${key} is missing or invalid`);
    }
  }
}
