/**
 * Problems found while importing SBOMs, advisories and VEX documents. An `error` rejects the
 * record it belongs to (one OSV record, one SBOM document, one component); a `warning` keeps
 * the record but says what part of it cannot be used. Either way the rest of the import goes
 * on, and every issue is reported back with where it was found.
 */
export const IMPORT_ISSUE_CODES = {
  JSON_MALFORMED: "The record is not valid JSON.",
  RECORD_TOO_LARGE: "The record is larger than the import limit and was not parsed.",
  SCHEMA_INVALID: "The record does not follow the published schema (CycloneDX 1.5/1.6 or OSV).",
  SPEC_VERSION_UNSUPPORTED: "The CycloneDX specVersion is not 1.5 or 1.6.",
  TOO_MANY_ITEMS: "The record holds more components, packages, events or versions than the import limit.",
  PURL_INVALID: "A package URL does not parse (purl-spec).",
  PURL_TYPE_UNKNOWN: "A package URL has a type that is not registered in the purl-spec: it cannot be matched.",
  ECOSYSTEM_UNKNOWN: "An OSV package names an ecosystem Vigil cannot map to a purl type, and gives no purl.",
  VERSION_UNPARSABLE: "A version does not parse under its scheme (SemVer, PEP 440, Maven, Debian, rpm, dotted).",
  RANGE_TYPE_UNSUPPORTED:
    "An OSV GIT range (commit hashes) cannot be evaluated offline; the explicit versions list still applies.",
  CVSS_INVALID: "A CVSS vector does not parse; the severity falls back to the publisher's rating.",
  NO_USABLE_PACKAGE: "No affected package of the advisory can be matched (every one had an error).",
  COMPONENT_NO_PURL: "A component has no purl: it is kept in the inventory but cannot be matched to advisories.",
  COMPONENT_INVALID: "A component does not follow the CycloneDX component schema and was skipped.",
  VEX_REF_UNRESOLVED: "A VEX statement's affects.ref names no component Vigil knows (no purl, no bom-ref match).",
  VEX_STATE_IGNORED: "A VEX statement's analysis.state does not suppress findings (only not_affected and false_positive do).",
  WITHDRAWN: "The advisory is withdrawn: it is stored but never matched.",
} as const;

export type ImportIssueCode = keyof typeof IMPORT_ISSUE_CODES;

export interface ImportIssue {
  readonly level: "error" | "warning";
  readonly code: ImportIssueCode;
  /** Where in the record: a JSON path such as `affected[2].ranges[0].events[1]`. */
  readonly path: string;
  readonly message: string;
}

/** Collects issues with a cap, so that a hostile record cannot make the report itself huge. */
export class IssueList {
  readonly items: ImportIssue[] = [];
  #dropped = 0;
  readonly #max: number;

  constructor(max = 100) {
    this.#max = max;
  }

  add(level: ImportIssue["level"], code: ImportIssueCode, path: string, message: string): void {
    if (this.items.length >= this.#max) {
      this.#dropped += 1;
      return;
    }
    this.items.push({ level, code, path, message: message.slice(0, 500) });
  }

  get hasErrors(): boolean {
    return this.items.some((i) => i.level === "error");
  }

  /** The issues, with a last warning counting those left out. */
  list(): ImportIssue[] {
    if (this.#dropped === 0) return this.items;
    return [
      ...this.items,
      { level: "warning", code: "TOO_MANY_ITEMS", path: "", message: `${this.#dropped} more issue(s) were not listed` },
    ];
  }
}

/** A zod issue path as a JSON path: `affected[2].ranges[0]`. */
export function jsonPath(path: readonly PropertyKey[], prefix = ""): string {
  let out = prefix;
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out;
}
