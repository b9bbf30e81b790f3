import semver from "semver";

/**
 * Version schemes, so that a component's version can be placed inside an advisory's ranges.
 * OSV (https://ossf.github.io/osv-schema/#affectedranges-field) has three range types:
 * SEMVER (SemVer 2.0.0, compared as such), ECOSYSTEM (the ecosystem's own ordering) and GIT
 * (commit hashes, which cannot be ordered without the repository: not supported; an
 * explicit `versions` list still matches). A version that does not parse under its scheme is
 * an error for that record, never a silent "not affected".
 */
export type VersionScheme = "semver" | "pep440" | "maven" | "dpkg" | "rpm" | "generic";

export class VersionError extends Error {
  readonly code = "VERSION_UNPARSABLE" as const;
  constructor(message: string) {
    super(message);
    this.name = "VersionError";
  }
}

/** The ordering a purl type's versions follow (ECOSYSTEM ranges, component versions). */
export function schemeOfPurlType(type: string): VersionScheme {
  switch (type) {
    case "npm":
    case "cargo":
    case "golang":
    case "hex":
    case "pub":
    case "swift":
      return "semver";
    case "pypi":
      return "pep440";
    case "maven":
      return "maven";
    case "deb":
      return "dpkg";
    case "rpm":
      return "rpm";
    default:
      // apk, gem, nuget, composer, conan, generic, github...: dotted numeric with letters,
      // compared segment by segment (the rpmvercmp idea), which orders 1.1.1w > 1.1.1v and
      // 1.36.1 > 1.9.0 as these ecosystems do.
      return "generic";
  }
}

const MAX_VERSION_CHARS = 256;

function tooLong(v: string): void {
  if (v.length === 0) throw new VersionError("the version is empty");
  if (v.length > MAX_VERSION_CHARS) throw new VersionError(`a version is at most ${MAX_VERSION_CHARS} characters`);
}

/** Compares two versions under a scheme: <0, 0, >0. Throws VersionError when either does not parse. */
export function compareVersions(scheme: VersionScheme, a: string, b: string): number {
  return compareParsed(scheme, parseVersion(scheme, a), parseVersion(scheme, b));
}

/** A parsed version: opaque, only for `compareParsed` under the same scheme. */
export type ParsedVersion =
  | { readonly scheme: "semver"; readonly v: semver.SemVer }
  | { readonly scheme: "pep440"; readonly v: Pep440 }
  | { readonly scheme: "maven"; readonly v: MavenItem[] }
  | { readonly scheme: "dpkg"; readonly v: Dpkg }
  | { readonly scheme: "rpm" | "generic"; readonly v: string };

export function parseVersion(scheme: VersionScheme, raw: string): ParsedVersion {
  const text = raw.trim();
  tooLong(text);
  switch (scheme) {
    case "semver": {
      // Go module versions carry a "v" (v1.2.3); OSV's SEMVER events do not.
      const parsed = semver.parse(text.replace(/^v(?=\d)/, ""));
      if (parsed === null) throw new VersionError(`${JSON.stringify(text.slice(0, 60))} is not a SemVer 2.0.0 version`);
      return { scheme, v: parsed };
    }
    case "pep440":
      return { scheme, v: parsePep440(text) };
    case "maven":
      return { scheme, v: parseMaven(text) };
    case "dpkg":
      return { scheme, v: parseDpkg(text) };
    case "rpm":
    case "generic":
      if (!/^[0-9A-Za-z][0-9A-Za-z._+~:-]*$/.test(text) || !/\d/.test(text)) {
        throw new VersionError(
          `${JSON.stringify(text.slice(0, 60))} is not a dotted version (digits, letters, '.', '-', '+', '~')`,
        );
      }
      return { scheme, v: text };
  }
}

export function compareParsed(scheme: VersionScheme, a: ParsedVersion, b: ParsedVersion): number {
  if (a.scheme !== b.scheme) throw new VersionError("versions of different schemes cannot be compared");
  switch (scheme) {
    case "semver":
      return semver.compare((a as { v: semver.SemVer }).v, (b as { v: semver.SemVer }).v);
    case "pep440":
      return comparePep440((a as { v: Pep440 }).v, (b as { v: Pep440 }).v);
    case "maven":
      return compareMaven((a as { v: MavenItem[] }).v, (b as { v: MavenItem[] }).v);
    case "dpkg":
      return compareDpkg((a as { v: Dpkg }).v, (b as { v: Dpkg }).v);
    case "rpm":
    case "generic":
      return rpmvercmp((a as { v: string }).v, (b as { v: string }).v);
  }
}

// ---- rpmvercmp (rpm's lib/rpmvercmp.c): alternating digit/letter segments, '~' sorts first ----

export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const sep = (c: string | undefined) => c !== undefined && !/[0-9A-Za-z~^]/.test(c);
  while (i < a.length || j < b.length) {
    while (i < a.length && sep(a[i])) i++;
    while (j < b.length && sep(b[j])) j++;
    if (a[i] === "~" || b[j] === "~") {
      if (a[i] !== "~") return 1;
      if (b[j] !== "~") return -1;
      i++;
      j++;
      continue;
    }
    if (a[i] === "^" || b[j] === "^") {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== "^") return 1;
      if (b[j] !== "^") return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = /\d/.test(a[i] as string);
    const seg = numeric ? /^\d+/ : /^[A-Za-z]+/;
    const sa = seg.exec(a.slice(i))?.[0] ?? "";
    const sb = seg.exec(b.slice(j))?.[0] ?? "";
    if (sb === "") return numeric ? 1 : -1; // a number is newer than letters
    i += sa.length;
    j += sb.length;
    if (numeric) {
      const na = sa.replace(/^0+/, "");
      const nb = sb.replace(/^0+/, "");
      if (na.length !== nb.length) return na.length > nb.length ? 1 : -1;
      if (na !== nb) return na > nb ? 1 : -1;
    } else if (sa !== sb) {
      return sa > sb ? 1 : -1;
    }
  }
  const restA = i < a.length;
  const restB = j < b.length;
  if (!restA && !restB) return 0;
  return restA ? 1 : -1;
}

// ---- Debian (deb-version(7)): [epoch:]upstream[-revision] ----

interface Dpkg {
  readonly epoch: number;
  readonly upstream: string;
  readonly revision: string;
}

function parseDpkg(text: string): Dpkg {
  const m = /^(?:(\d+):)?([0-9][A-Za-z0-9.+~:-]*?)(?:-([A-Za-z0-9.+~]+))?$/.exec(text);
  if (m === null || m[2] === undefined) {
    throw new VersionError(`${JSON.stringify(text.slice(0, 60))} is not a Debian version ([epoch:]upstream[-revision])`);
  }
  return { epoch: Number(m[1] ?? 0), upstream: m[2], revision: m[3] ?? "0" };
}

function dpkgOrder(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === "~") return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function dpkgPart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let first = 0;
    while ((i < a.length && !/\d/.test(a[i] as string)) || (j < b.length && !/\d/.test(b[j] as string))) {
      const ac = i < a.length && !/\d/.test(a[i] as string) ? a[i] : undefined;
      const bc = j < b.length && !/\d/.test(b[j] as string) ? b[j] : undefined;
      const diff = dpkgOrder(ac) - dpkgOrder(bc);
      if (diff !== 0) return diff;
      i++;
      j++;
    }
    while (a[i] === "0") i++;
    while (b[j] === "0") j++;
    while (i < a.length && /\d/.test(a[i] as string) && j < b.length && /\d/.test(b[j] as string)) {
      if (first === 0) first = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && /\d/.test(a[i] as string)) return 1;
    if (j < b.length && /\d/.test(b[j] as string)) return -1;
    if (first !== 0) return first;
  }
  return 0;
}

function compareDpkg(a: Dpkg, b: Dpkg): number {
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  return dpkgPart(a.upstream, b.upstream) || dpkgPart(a.revision, b.revision);
}

// ---- PEP 440 (public versions): [N!]N(.N)*[{a|b|rc}N][.postN][.devN] ----

interface Pep440 {
  readonly epoch: number;
  readonly release: readonly number[];
  /** pre-release: [rank, n]; rank a=0, b=1, rc=2; absent = final. */
  readonly pre: readonly [number, number] | null;
  readonly post: number | null;
  readonly dev: number | null;
}

const PEP440 =
  /^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?(\d*))?(?:(?:-(\d+))|(?:[-_.]?(?:post|rev|r)[-_.]?(\d*)))?(?:[-_.]?dev[-_.]?(\d*))?(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$/i;

function parsePep440(text: string): Pep440 {
  const m = PEP440.exec(text);
  if (m === null) throw new VersionError(`${JSON.stringify(text.slice(0, 60))} is not a PEP 440 version`);
  const preName = m[3]?.toLowerCase();
  const preRank = preName === undefined ? -1 : preName.startsWith("a") ? 0 : preName.startsWith("b") ? 1 : 2;
  const post = m[5] ?? m[6];
  return {
    epoch: Number(m[1] ?? 0),
    release: (m[2] as string).split(".").map(Number),
    pre: preRank === -1 ? null : [preRank, Number(m[4] || 0)],
    post: post === undefined ? null : Number(post || 0),
    dev: m[7] === undefined && !/dev/i.test(text) ? null : Number(m[7] || 0),
  };
}

function comparePep440(a: Pep440, b: Pep440): number {
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  const n = Math.max(a.release.length, b.release.length);
  for (let k = 0; k < n; k++) {
    const d = (a.release[k] ?? 0) - (b.release[k] ?? 0);
    if (d !== 0) return d;
  }
  // Order within a release: X.devN < X.aN < X.bN < X.rcN < X < X.postN.
  const phase = (v: Pep440): [number, number, number, number] => {
    if (v.pre === null && v.post === null && v.dev !== null) return [-1, 0, 0, v.dev];
    const pre: [number, number] = v.pre === null ? [3, 0] : [v.pre[0], v.pre[1]];
    return [pre[0], pre[1], v.post === null ? -1 : v.post, v.dev === null ? Number.MAX_SAFE_INTEGER : v.dev];
  };
  const pa = phase(a);
  const pb = phase(b);
  for (let k = 0; k < 4; k++) {
    const d = (pa[k] as number) - (pb[k] as number);
    if (d !== 0) return d;
  }
  return 0;
}

// ---- Maven (ComparableVersion, simplified): numbers and qualifiers ----

type MavenItem = { readonly kind: "n"; readonly n: bigint } | { readonly kind: "q"; readonly q: string };

const QUALIFIER_RANK: Readonly<Record<string, number>> = {
  alpha: 0,
  a: 0,
  beta: 1,
  b: 1,
  milestone: 2,
  m: 2,
  rc: 3,
  cr: 3,
  snapshot: 4,
  "": 5,
  ga: 5,
  final: 5,
  release: 5,
  sp: 6,
};

function parseMaven(text: string): MavenItem[] {
  if (!/^[0-9A-Za-z][0-9A-Za-z._+-]*$/.test(text)) {
    throw new VersionError(`${JSON.stringify(text.slice(0, 60))} is not a Maven version`);
  }
  const items: MavenItem[] = [];
  for (const token of text.toLowerCase().split(/[.-]|(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)/)) {
    if (token === "") continue;
    items.push(/^\d+$/.test(token) ? { kind: "n", n: BigInt(token) } : { kind: "q", q: token });
  }
  // Trailing zeros and "release" qualifiers do not change the version (1.0 == 1 == 1.0.0-ga).
  while (items.length > 1) {
    const last = items[items.length - 1] as MavenItem;
    if ((last.kind === "n" && last.n === 0n) || (last.kind === "q" && QUALIFIER_RANK[last.q] === 5)) items.pop();
    else break;
  }
  return items;
}

function mavenItemCompare(a: MavenItem | undefined, b: MavenItem | undefined): number {
  const rank = (q: string) => QUALIFIER_RANK[q] ?? 5.5; // unknown qualifiers: after release, before sp, lexical
  if (a === undefined && b === undefined) return 0;
  if (a === undefined) return b?.kind === "n" ? (b.n === 0n ? 0 : -1) : rank((b as { q: string }).q) < 5 ? 1 : -1;
  if (b === undefined) return -mavenItemCompare(b, a);
  if (a.kind === "n" && b.kind === "n") return a.n === b.n ? 0 : a.n > b.n ? 1 : -1;
  if (a.kind === "n") return 1;
  if (b.kind === "n") return -1;
  const ra = rank(a.q);
  const rb = rank(b.q);
  if (ra !== rb) return ra - rb;
  return a.q === b.q ? 0 : a.q > b.q ? 1 : -1;
}

function compareMaven(a: readonly MavenItem[], b: readonly MavenItem[]): number {
  const n = Math.max(a.length, b.length);
  for (let k = 0; k < n; k++) {
    const d = mavenItemCompare(a[k], b[k]);
    if (d !== 0) return d;
  }
  return 0;
}
