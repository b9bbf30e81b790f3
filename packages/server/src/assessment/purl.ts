/**
 * Package URLs (purl, https://github.com/package-url/purl-spec, ECMA-427):
 * `pkg:type/namespace/name@version?qualifiers#subpath`. Components in an SBOM and packages in
 * an advisory meet on the *package key* `type/namespace/name` (lower-cased where the type's
 * rules say names are case-insensitive); the version is compared by the type's scheme.
 */

export interface Purl {
  readonly type: string;
  readonly namespace: string | null;
  readonly name: string;
  readonly version: string | null;
  readonly qualifiers: Readonly<Record<string, string>>;
  readonly subpath: string | null;
}

/**
 * The purl types Vigil knows (the purl-spec's registered types). A purl of another type is
 * reported as `PURL_TYPE_UNKNOWN`: it cannot be matched to any advisory.
 */
export const KNOWN_PURL_TYPES: ReadonlySet<string> = new Set([
  "alpm",
  "apk",
  "bitbucket",
  "bitnami",
  "cargo",
  "cocoapods",
  "composer",
  "conan",
  "conda",
  "cpan",
  "cran",
  "deb",
  "docker",
  "gem",
  "generic",
  "github",
  "golang",
  "hackage",
  "hex",
  "huggingface",
  "luarocks",
  "maven",
  "mlflow",
  "npm",
  "nuget",
  "oci",
  "pub",
  "pypi",
  "qpkg",
  "rpm",
  "swid",
  "swift",
]);

/** Types whose names compare case-insensitively (purl-spec: "name is case insensitive and must be lowercased"). */
const CASE_INSENSITIVE = new Set(["bitbucket", "cocoapods", "composer", "deb", "github", "golang", "hex", "npm", "pypi"]);

const TYPE = /^[a-z][a-z0-9.+-]*$/;
const MAX_PURL_CHARS = 2048;

export class PurlError extends Error {
  readonly code: "PURL_INVALID" | "PURL_TYPE_UNKNOWN";
  constructor(code: "PURL_INVALID" | "PURL_TYPE_UNKNOWN", message: string) {
    super(message);
    this.name = "PurlError";
    this.code = code;
  }
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new PurlError("PURL_INVALID", `the ${what} ${JSON.stringify(part.slice(0, 80))} has a bad percent-encoding`);
  }
}

/** Parses a purl; throws `PurlError` (PURL_INVALID or PURL_TYPE_UNKNOWN). */
export function parsePurl(text: string): Purl {
  if (text.length > MAX_PURL_CHARS) throw new PurlError("PURL_INVALID", `a purl is at most ${MAX_PURL_CHARS} characters`);
  if (!/^pkg:/i.test(text))
    throw new PurlError("PURL_INVALID", `${JSON.stringify(text.slice(0, 80))} does not start with "pkg:"`);
  let rest = text.slice(4).replace(/^\/+/, "");
  let subpath: string | null = null;
  const hash = rest.indexOf("#");
  if (hash !== -1) {
    subpath =
      rest
        .slice(hash + 1)
        .split("/")
        .filter((s) => s !== "" && s !== "." && s !== "..")
        .map((s) => decode(s, "subpath"))
        .join("/") || null;
    rest = rest.slice(0, hash);
  }
  const qualifiers: Record<string, string> = {};
  const question = rest.indexOf("?");
  if (question !== -1) {
    for (const pair of rest.slice(question + 1).split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new PurlError("PURL_INVALID", `qualifier ${JSON.stringify(pair.slice(0, 40))} is not key=value`);
      const value = decode(pair.slice(eq + 1), "qualifier value");
      if (value !== "") qualifiers[pair.slice(0, eq).toLowerCase()] = value;
    }
    rest = rest.slice(0, question);
  }
  const slash = rest.indexOf("/");
  if (slash === -1) throw new PurlError("PURL_INVALID", `${JSON.stringify(text.slice(0, 80))} has no name`);
  const type = rest.slice(0, slash).toLowerCase();
  if (!TYPE.test(type)) throw new PurlError("PURL_INVALID", `purl type ${JSON.stringify(type.slice(0, 40))} is malformed`);
  if (!KNOWN_PURL_TYPES.has(type)) {
    throw new PurlError("PURL_TYPE_UNKNOWN", `purl type ${JSON.stringify(type.slice(0, 40))} is not a registered type`);
  }
  let remainder = rest.slice(slash + 1).replace(/\/+$/, "");
  let version: string | null = null;
  const at = remainder.lastIndexOf("@");
  if (at !== -1) {
    version = decode(remainder.slice(at + 1), "version") || null;
    remainder = remainder.slice(0, at);
  }
  const segments = remainder.split("/").filter((s) => s !== "");
  const rawName = segments.pop();
  if (rawName === undefined) throw new PurlError("PURL_INVALID", `${JSON.stringify(text.slice(0, 80))} has no name`);
  let name = decode(rawName, "name");
  let namespace: string | null = segments.length > 0 ? segments.map((s) => decode(s, "namespace")).join("/") : null;
  if (CASE_INSENSITIVE.has(type)) {
    name = name.toLowerCase();
    namespace = namespace?.toLowerCase() ?? null;
  }
  if (type === "pypi") name = name.replace(/[-_.]+/g, "-"); // PEP 503 normalisation
  return { type, namespace, name, version, qualifiers, subpath };
}

/** `type/namespace/name`: what an SBOM component and an advisory's package must share to match. */
export function packageKey(purl: Pick<Purl, "type" | "namespace" | "name">): string {
  return purl.namespace === null ? `${purl.type}/${purl.name}` : `${purl.type}/${purl.namespace}/${purl.name}`;
}

/** The purl without version, qualifiers or subpath, for display. */
export function formatPackage(purl: Pick<Purl, "type" | "namespace" | "name">): string {
  return `pkg:${packageKey(purl)}`;
}

/**
 * OSV ecosystems (https://ossf.github.io/osv-schema/#affectedpackage-field) and the purl type
 * (and namespace) the same packages have. An advisory without a purl is keyed through this.
 */
export const OSV_ECOSYSTEM_PURL: Readonly<Record<string, { type: string; namespace?: string }>> = {
  npm: { type: "npm" },
  PyPI: { type: "pypi" },
  Maven: { type: "maven" },
  Go: { type: "golang" },
  "crates.io": { type: "cargo" },
  RubyGems: { type: "gem" },
  NuGet: { type: "nuget" },
  Packagist: { type: "composer" },
  Pub: { type: "pub" },
  Hex: { type: "hex" },
  Hackage: { type: "hackage" },
  CRAN: { type: "cran" },
  ConanCenter: { type: "conan" },
  SwiftURL: { type: "swift" },
  Debian: { type: "deb", namespace: "debian" },
  Ubuntu: { type: "deb", namespace: "ubuntu" },
  Alpine: { type: "apk", namespace: "alpine" },
  "Rocky Linux": { type: "rpm", namespace: "rocky-linux" },
  AlmaLinux: { type: "rpm", namespace: "almalinux" },
  "Red Hat": { type: "rpm", namespace: "redhat" },
  openSUSE: { type: "rpm", namespace: "opensuse" },
  SUSE: { type: "rpm", namespace: "suse" },
  "GitHub Actions": { type: "github" },
  GIT: { type: "generic" },
};

/** The base ecosystem name: OSV allows `Debian:12`, `Alpine:v3.19`, `Ubuntu:22.04:LTS`. */
export function baseEcosystem(ecosystem: string): string {
  const colon = ecosystem.indexOf(":");
  return colon === -1 ? ecosystem : ecosystem.slice(0, colon);
}

/** The package key of an OSV `(ecosystem, name)`, or undefined when the ecosystem is not known. */
export function packageKeyOfEcosystem(ecosystem: string, name: string): string | undefined {
  const mapped = OSV_ECOSYSTEM_PURL[baseEcosystem(ecosystem)];
  if (mapped === undefined) return undefined;
  let pkgName = name;
  let namespace: string | null = mapped.namespace ?? null;
  if (mapped.type === "maven") {
    const [group, artifact] = name.split(":");
    if (group === undefined || artifact === undefined) return undefined;
    namespace = group;
    pkgName = artifact;
  } else if (mapped.type === "npm" && name.startsWith("@") && name.includes("/")) {
    namespace = name.slice(0, name.indexOf("/")).toLowerCase();
    pkgName = name.slice(name.indexOf("/") + 1);
  } else if (mapped.type === "golang" || mapped.type === "github" || mapped.type === "swift") {
    const slash = name.lastIndexOf("/");
    if (slash !== -1) {
      namespace = name.slice(0, slash);
      pkgName = name.slice(slash + 1);
    }
  } else if (mapped.type === "composer" && name.includes("/")) {
    namespace = name.slice(0, name.indexOf("/"));
    pkgName = name.slice(name.indexOf("/") + 1);
  }
  if (CASE_INSENSITIVE.has(mapped.type)) {
    pkgName = pkgName.toLowerCase();
    namespace = namespace?.toLowerCase() ?? null;
  }
  if (mapped.type === "pypi") pkgName = pkgName.replace(/[-_.]+/g, "-");
  return packageKey({ type: mapped.type, namespace, name: pkgName });
}
