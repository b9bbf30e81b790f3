import { z } from "zod";
import { CvssError, cvss2BaseScore, cvss3BaseScore, severityOfScore, validateCvss4, type Severity } from "./cvss.js";
import { IssueList, jsonPath, type ImportIssue } from "./import-issues.js";
import { PurlError, baseEcosystem, packageKey, packageKeyOfEcosystem, parsePurl } from "./purl.js";
import { VersionError, parseVersion, schemeOfPurlType, type VersionScheme } from "./versions.js";

/**
 * OSV records (Open Source Vulnerability format, https://ossf.github.io/osv-schema/, schema
 * 1.6/1.7): read one at a time, each validated on its own, normalised into what matching
 * needs. Unknown fields are allowed (the format is extensible through database_specific).
 */

const RFC3339 = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "must be an RFC 3339 timestamp");

const eventSchema = z.union([
  z.strictObject({ introduced: z.string().min(1).max(256) }),
  z.strictObject({ fixed: z.string().min(1).max(256) }),
  z.strictObject({ last_affected: z.string().min(1).max(256) }),
  z.strictObject({ limit: z.string().min(1).max(256) }),
]);

const severitySchema = z.looseObject({ type: z.string().min(1).max(32), score: z.string().min(1).max(512) });

const affectedSchema = z.looseObject({
  package: z
    .looseObject({
      ecosystem: z.string().min(1).max(128),
      name: z.string().min(1).max(1024),
      purl: z.string().max(4096).optional(),
    })
    .optional(),
  severity: z.array(severitySchema).max(16).optional(),
  ranges: z
    .array(
      z.looseObject({
        type: z.enum(["SEMVER", "ECOSYSTEM", "GIT"]),
        repo: z.string().max(2048).optional(),
        events: z.array(eventSchema).min(1).max(1000),
      }),
    )
    .max(100)
    .optional(),
  versions: z.array(z.string().max(256)).max(20_000).optional(),
  database_specific: z.unknown().optional(),
  ecosystem_specific: z.unknown().optional(),
});

const osvSchema = z.looseObject({
  schema_version: z.string().max(32).optional(),
  id: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, "must be a database prefix and id such as GHSA-xxxx or CVE-2024-1234"),
  modified: RFC3339,
  published: RFC3339.optional(),
  withdrawn: RFC3339.optional(),
  aliases: z.array(z.string().max(256)).max(100).optional(),
  related: z.array(z.string().max(256)).max(1000).optional(),
  summary: z.string().max(10_000).optional(),
  details: z.string().max(200_000).optional(),
  severity: z.array(severitySchema).max(16).optional(),
  affected: z.array(z.unknown()).max(1000).optional(),
  references: z
    .array(z.looseObject({ type: z.string().max(32), url: z.string().max(4096) }))
    .max(1000)
    .optional(),
  database_specific: z.unknown().optional(),
});

export type RangeEvent =
  { readonly introduced: string } | { readonly fixed: string } | { readonly last_affected: string } | { readonly limit: string };

export interface AffectedPackage {
  readonly packageKey: string;
  /** The ecosystem as given (`Debian:12`), or the purl type when only a purl was given. */
  readonly ecosystem: string;
  readonly ranges: readonly { readonly scheme: VersionScheme; readonly events: readonly RangeEvent[] }[];
  /** Explicit affected versions (exact strings). */
  readonly versions: readonly string[];
  /** A severity for this package that overrides the record's (OSV 1.6 `affected[].severity`). */
  readonly severity: { readonly severity: Severity; readonly cvss: number | null; readonly vector: string | null } | null;
}

export interface Advisory {
  readonly id: string;
  readonly modified: number;
  readonly published: number | null;
  readonly withdrawn: number | null;
  readonly aliases: readonly string[];
  readonly summary: string;
  readonly severity: Severity;
  /** The CVSS base score used for `severity` (computed from the vector), or null. */
  readonly cvss: number | null;
  readonly cvssVector: string | null;
  readonly affected: readonly AffectedPackage[];
  readonly references: readonly string[];
}

export interface OsvLimits {
  readonly maxRecordBytes: number;
}

export const DEFAULT_OSV_LIMITS: OsvLimits = { maxRecordBytes: 1024 * 1024 };

export type OsvParseResult =
  | { readonly ok: true; readonly advisory: Advisory; readonly issues: ImportIssue[] }
  | { readonly ok: false; readonly id: string | null; readonly issues: ImportIssue[] };

/** The record's own id, if it can be read at all (for error reports of broken records). */
function idOf(value: unknown): string | null {
  if (typeof value !== "object" || value === null) return null;
  const id = (value as { id?: unknown }).id;
  return typeof id === "string" ? id.slice(0, 256) : null;
}

/** Parses and normalises one OSV record from its JSON text (or parsed value). */
export function parseOsv(input: unknown, limits: OsvLimits = DEFAULT_OSV_LIMITS): OsvParseResult {
  const issues = new IssueList();
  let value: unknown = input;
  if (typeof input === "string") {
    const bytes = Buffer.byteLength(input, "utf8");
    if (bytes > limits.maxRecordBytes) {
      issues.add("error", "RECORD_TOO_LARGE", "", `the record is ${bytes} bytes; the limit is ${limits.maxRecordBytes}`);
      return { ok: false, id: null, issues: issues.list() };
    }
    try {
      value = JSON.parse(input);
    } catch (error) {
      issues.add("error", "JSON_MALFORMED", "", `not JSON: ${(error as Error).message}`);
      return { ok: false, id: null, issues: issues.list() };
    }
  }
  const parsed = osvSchema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues.slice(0, 20))
      issues.add("error", "SCHEMA_INVALID", jsonPath(issue.path), issue.message);
    return { ok: false, id: idOf(value), issues: issues.list() };
  }
  const r = parsed.data;
  const recordSeverity = severityFrom(r.severity ?? [], "severity", issues);
  const affected: AffectedPackage[] = [];
  (r.affected ?? []).forEach((raw, index) => {
    const pkg = readAffected(raw, `affected[${index}]`, issues);
    if (pkg !== undefined) affected.push(pkg);
  });
  const withdrawn = r.withdrawn === undefined ? null : Date.parse(r.withdrawn);
  if (withdrawn !== null) issues.add("warning", "WITHDRAWN", "withdrawn", `${r.id} was withdrawn on ${r.withdrawn}`);
  if (affected.length === 0 && withdrawn === null) {
    issues.add("error", "NO_USABLE_PACKAGE", "affected", `${r.id} names no affected package Vigil can match`);
    return { ok: false, id: r.id, issues: issues.list() };
  }
  let severity = recordSeverity;
  if (severity === null) {
    const label = qualitative((r.database_specific as { severity?: unknown } | undefined)?.severity);
    severity = { severity: label ?? "unknown", cvss: null, vector: null };
  }
  // The record's overall severity is the worst of its own and its packages'.
  for (const a of affected) {
    if (a.severity !== null && (a.severity.cvss ?? -1) > (severity.cvss ?? -1)) severity = a.severity;
  }
  return {
    ok: true,
    advisory: {
      id: r.id,
      modified: Date.parse(r.modified),
      published: r.published === undefined ? null : Date.parse(r.published),
      withdrawn,
      aliases: r.aliases ?? [],
      summary: (r.summary ?? r.details ?? "").slice(0, 500),
      severity: severity.severity,
      cvss: severity.cvss,
      cvssVector: severity.vector,
      affected,
      references: (r.references ?? []).slice(0, 20).map((ref) => ref.url),
    },
    issues: issues.list(),
  };
}

function readAffected(raw: unknown, where: string, issues: IssueList): AffectedPackage | undefined {
  const parsed = affectedSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    issues.add("error", "SCHEMA_INVALID", jsonPath(first?.path ?? [], where), first?.message ?? "invalid affected entry");
    return undefined;
  }
  const a = parsed.data;
  if (a.package === undefined) {
    issues.add("error", "SCHEMA_INVALID", `${where}.package`, "an affected entry without a package cannot be matched");
    return undefined;
  }
  let key: string | undefined;
  let purlType: string | undefined;
  if (a.package.purl !== undefined) {
    try {
      const purl = parsePurl(a.package.purl);
      key = packageKey(purl);
      purlType = purl.type;
    } catch (error) {
      if (!(error instanceof PurlError)) throw error;
      issues.add("error", error.code, `${where}.package.purl`, error.message);
      return undefined;
    }
  } else {
    key = packageKeyOfEcosystem(a.package.ecosystem, a.package.name);
    purlType = key?.split("/")[0];
    if (key === undefined) {
      issues.add(
        "error",
        "ECOSYSTEM_UNKNOWN",
        `${where}.package.ecosystem`,
        `ecosystem ${JSON.stringify(baseEcosystem(a.package.ecosystem).slice(0, 60))} has no known purl type; give package.purl`,
      );
      return undefined;
    }
  }
  const ecosystemScheme = schemeOfPurlType(purlType ?? "generic");
  const ranges: { scheme: VersionScheme; events: RangeEvent[] }[] = [];
  let broken = false;
  (a.ranges ?? []).forEach((range, r) => {
    if (range.type === "GIT") {
      issues.add(
        "warning",
        "RANGE_TYPE_UNSUPPORTED",
        `${where}.ranges[${r}]`,
        "GIT ranges are not evaluated (commits cannot be ordered offline)",
      );
      return;
    }
    const scheme: VersionScheme = range.type === "SEMVER" ? "semver" : ecosystemScheme;
    range.events.forEach((event, e) => {
      const version = Object.values(event)[0] as string;
      if ("introduced" in event && version === "0") return; // "0": from the first version
      try {
        parseVersion(scheme, version);
      } catch (error) {
        if (!(error instanceof VersionError)) throw error;
        broken = true;
        issues.add(
          "error",
          "VERSION_UNPARSABLE",
          `${where}.ranges[${r}].events[${e}]`,
          `${error.message} (${range.type}, ${scheme})`,
        );
      }
    });
    ranges.push({ scheme, events: range.events });
  });
  if (broken) return undefined; // a range that cannot be evaluated must not read as "not affected"
  const versions = a.versions ?? [];
  if (ranges.length === 0 && versions.length === 0) {
    issues.add("error", "SCHEMA_INVALID", where, "the affected entry has neither evaluable ranges nor a versions list");
    return undefined;
  }
  return {
    packageKey: key,
    ecosystem: a.package.ecosystem,
    ranges,
    versions,
    severity: severityFrom(a.severity ?? [], `${where}.severity`, issues),
  };
}

function qualitative(label: unknown): Severity | undefined {
  if (typeof label !== "string") return undefined;
  const l = label.toLowerCase();
  if (l === "critical") return "critical";
  if (l === "high" || l === "important") return "high";
  if (l === "moderate" || l === "medium") return "medium";
  if (l === "low" || l === "negligible") return "low";
  return undefined;
}

/**
 * The severity of a list of OSV severity entries: the highest CVSS v3.x base score computed
 * from its vector, else v2; a CVSS v4 vector is validated but its score is not computed (see
 * cvss.ts), so a v4-only entry falls back to the publisher's qualitative rating; `Ubuntu`
 * entries carry such a rating directly.
 */
function severityFrom(
  list: readonly { type: string; score: string }[],
  where: string,
  issues: IssueList,
): { severity: Severity; cvss: number | null; vector: string | null } | null {
  let best: { severity: Severity; cvss: number | null; vector: string | null } | null = null;
  let label: Severity | undefined;
  list.forEach((s, i) => {
    try {
      let score: number | undefined;
      if (s.type === "CVSS_V3") score = cvss3BaseScore(s.score);
      else if (s.type === "CVSS_V2") score = cvss2BaseScore(s.score);
      else if (s.type === "CVSS_V4") validateCvss4(s.score);
      else if (s.type === "Ubuntu") label = qualitative(s.score) ?? label;
      if (score !== undefined && (best === null || score > (best.cvss ?? -1))) {
        best = { severity: severityOfScore(score), cvss: score, vector: s.score };
      }
    } catch (error) {
      if (!(error instanceof CvssError)) throw error;
      issues.add("warning", "CVSS_INVALID", `${where}[${i}].score`, error.message);
    }
  });
  if (best !== null) return best;
  return label === undefined ? null : { severity: label, cvss: null, vector: null };
}
