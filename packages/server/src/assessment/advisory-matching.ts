import type { SbomComponent, VexStatement } from "./cyclonedx.js";
import type { AffectedPackage, Advisory, RangeEvent } from "./osv.js";
import { VersionError, compareParsed, parseVersion, type ParsedVersion, type VersionScheme } from "./versions.js";

/** Whether a version falls in an affected package, and the first version that fixes it. */
export interface MatchResult {
  readonly affected: boolean;
  /** The lowest `fixed` above the version in the ranges that affect it: the update to suggest. */
  readonly fixedVersion: string | null;
}

function eventVersion(event: RangeEvent): string {
  return Object.values(event)[0] as string;
}

/**
 * OSV's evaluation of one range (https://ossf.github.io/osv-schema/#evaluation): walk the
 * events in version order; `introduced` (at or below the version) turns "affected" on,
 * `fixed` (at or below) turns it off, `last_affected` (strictly below) turns it off. `limit`
 * only bounds GIT walks and is ignored here.
 */
function inRange(
  version: ParsedVersion,
  scheme: VersionScheme,
  events: readonly RangeEvent[],
): { affected: boolean; fixed: string | null } {
  const zero = Symbol("zero");
  const sorted = events
    .filter((e) => !("limit" in e))
    .map((e) => {
      const raw = eventVersion(e);
      return { e, v: "introduced" in e && raw === "0" ? zero : parseVersion(scheme, raw) };
    })
    .sort((a, b) => {
      if (a.v === zero) return b.v === zero ? 0 : -1;
      if (b.v === zero) return 1;
      return compareParsed(scheme, a.v as ParsedVersion, b.v as ParsedVersion);
    });
  let affected = false;
  let fixed: string | null = null;
  for (const { e, v } of sorted) {
    const cmp = v === zero ? 1 : compareParsed(scheme, version, v as ParsedVersion);
    if ("introduced" in e) {
      if (cmp >= 0) affected = true;
    } else if ("fixed" in e) {
      if (cmp >= 0) affected = false;
      else if (affected && fixed === null) fixed = e.fixed;
    } else if ("last_affected" in e) {
      if (cmp > 0) affected = false;
    }
  }
  return { affected, fixed: affected ? fixed : null };
}

/**
 * Does `version` fall in this affected package? Exact `versions` entries match as strings
 * (any scheme, even an unparsable version); ranges need the version to parse under the
 * range's scheme, else VersionError (the caller reports it: never a silent "not affected").
 */
export function matchAffected(pkg: AffectedPackage, version: string): MatchResult {
  let affected = pkg.versions.includes(version);
  let fixedVersion: string | null = null;
  let versionError: VersionError | undefined;
  for (const range of pkg.ranges) {
    let parsed: ParsedVersion;
    try {
      parsed = parseVersion(range.scheme, version);
    } catch (error) {
      if (!(error instanceof VersionError)) throw error;
      versionError = error;
      continue;
    }
    const r = inRange(parsed, range.scheme, range.events);
    if (r.affected) {
      affected = true;
      if (r.fixed !== null && (fixedVersion === null || compareParsedSafe(range.scheme, r.fixed, fixedVersion) < 0)) {
        fixedVersion = r.fixed;
      }
    }
  }
  if (!affected && versionError !== undefined) throw versionError;
  return { affected, fixedVersion };
}

function compareParsedSafe(scheme: VersionScheme, a: string, b: string): number {
  try {
    return compareParsed(scheme, parseVersion(scheme, a), parseVersion(scheme, b));
  } catch {
    return 0;
  }
}

/** A component of an SBOM that an advisory affects. */
export interface ComponentMatch {
  readonly advisory: Advisory;
  readonly component: SbomComponent;
  readonly fixedVersion: string | null;
  readonly severity: Advisory["severity"];
  readonly cvss: number | null;
}

export interface SbomMatchResult {
  readonly matches: ComponentMatch[];
  /** Matches suppressed by a VEX statement (not_affected / false_positive), with the statement. */
  readonly suppressed: { readonly match: ComponentMatch; readonly statement: VexStatement }[];
  /** Components whose version could not be placed in an advisory's ranges. */
  readonly problems: { readonly component: SbomComponent; readonly advisory: string; readonly message: string }[];
}

/**
 * Matches an SBOM's components against advisories: by package key (purl type, namespace,
 * name), then by version (ranges and explicit versions). Withdrawn advisories never match.
 * VEX statements that name the advisory (its id or an alias), the component's package (and
 * version, when the statement gives one) and this SBOM (when scoped) suppress the match.
 */
export function matchSbom(input: {
  components: readonly SbomComponent[];
  sbomSerial: string | null;
  advisoriesFor: (packageKey: string) => readonly Advisory[];
  vex: readonly VexStatement[];
}): SbomMatchResult {
  const matches: ComponentMatch[] = [];
  const suppressed: SbomMatchResult["suppressed"] = [];
  const problems: SbomMatchResult["problems"] = [];
  for (const component of input.components) {
    if (component.packageKey === null || component.version === null) continue;
    for (const advisory of input.advisoriesFor(component.packageKey)) {
      if (advisory.withdrawn !== null) continue;
      let best: { pkg: AffectedPackage; fixed: string | null } | undefined;
      for (const pkg of advisory.affected) {
        if (pkg.packageKey !== component.packageKey) continue;
        try {
          const r = matchAffected(pkg, component.version);
          if (r.affected) best = { pkg, fixed: r.fixedVersion ?? best?.fixed ?? null };
        } catch (error) {
          if (!(error instanceof VersionError)) throw error;
          problems.push({ component, advisory: advisory.id, message: error.message });
        }
      }
      if (best === undefined) continue;
      const sev = best.pkg.severity;
      const match: ComponentMatch = {
        advisory,
        component,
        fixedVersion: best.fixed,
        severity: sev?.severity ?? advisory.severity,
        cvss: sev?.cvss ?? advisory.cvss,
      };
      const ids = new Set([advisory.id, ...advisory.aliases]);
      const statement = input.vex.find(
        (s) =>
          ids.has(s.vulnerability) &&
          s.packageKey === component.packageKey &&
          (s.version === null || s.version === component.version) &&
          (s.sbomSerial === null || s.sbomSerial === input.sbomSerial),
      );
      if (statement !== undefined) suppressed.push({ match, statement });
      else matches.push(match);
    }
  }
  return { matches, suppressed, problems };
}
