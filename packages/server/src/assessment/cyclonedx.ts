import { z } from "zod";
import { IssueList, jsonPath, type ImportIssue } from "./import-issues.js";
import { PurlError, packageKey, parsePurl } from "./purl.js";
import { VersionError, parseVersion, schemeOfPurlType, type VersionScheme } from "./versions.js";

/**
 * CycloneDX JSON, specVersion 1.5 and 1.6 (https://cyclonedx.org/docs/1.6/json/): what Vigil
 * reads of it. Top-level structure is checked strictly (bomFormat, specVersion, serialNumber,
 * metadata, components, vulnerabilities); each component is then checked on its own, so one
 * bad component is reported and skipped while the others are kept. Unknown fields are
 * allowed, as the schema's extensions (properties, evidence, pedigree...) are many.
 */

export const CYCLONEDX_SPEC_VERSIONS = ["1.5", "1.6"] as const;

/** Classification of a component (CycloneDX 1.6 `component.type`; 1.5 is a subset). */
const COMPONENT_TYPES = [
  "application",
  "framework",
  "library",
  "container",
  "platform",
  "operating-system",
  "device",
  "device-driver",
  "firmware",
  "file",
  "machine-learning-model",
  "data",
  "cryptographic-asset",
] as const;

const SERIAL = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

const componentSchema = z.looseObject({
  type: z.enum(COMPONENT_TYPES),
  name: z.string().min(1).max(1024),
  version: z.string().max(1024).optional(),
  group: z.string().max(1024).optional(),
  purl: z.string().max(4096).optional(),
  "bom-ref": z.string().max(1024).optional(),
  components: z.array(z.unknown()).optional(),
});

const analysisStates = [
  "resolved",
  "resolved_with_pedigree",
  "exploitable",
  "in_triage",
  "false_positive",
  "not_affected",
] as const;

const vulnerabilitySchema = z.looseObject({
  id: z.string().min(1).max(256),
  "bom-ref": z.string().max(1024).optional(),
  analysis: z
    .looseObject({
      state: z.enum(analysisStates).optional(),
      justification: z.string().max(128).optional(),
      detail: z.string().max(10_000).optional(),
    })
    .optional(),
  affects: z
    .array(z.looseObject({ ref: z.string().min(1).max(4096) }))
    .max(10_000)
    .optional(),
});

const bomSchema = z.looseObject({
  bomFormat: z.literal("CycloneDX"),
  specVersion: z.string(),
  serialNumber: z.string().regex(SERIAL, "must be a urn:uuid (RFC 4122)").optional(),
  version: z.number().int().min(1).optional(),
  metadata: z
    .looseObject({
      timestamp: z.string().optional(),
      component: z.unknown().optional(),
    })
    .optional(),
  components: z.array(z.unknown()).optional(),
  vulnerabilities: z.array(z.unknown()).optional(),
});

export interface SbomComponent {
  readonly name: string;
  readonly group: string | null;
  readonly version: string | null;
  readonly type: string;
  readonly purl: string | null;
  /** `type/namespace/name` when the purl parsed; null: kept for inventory, never matched. */
  readonly packageKey: string | null;
  readonly scheme: VersionScheme | null;
  /** False when the version does not parse under its scheme (it then matches explicit versions lists only). */
  readonly versionParses: boolean;
  readonly bomRef: string | null;
}

export interface ParsedSbom {
  readonly specVersion: (typeof CYCLONEDX_SPEC_VERSIONS)[number];
  readonly serialNumber: string | null;
  readonly bomVersion: number;
  /** The product the SBOM describes (`metadata.component`), when given. */
  readonly subject: { readonly name: string; readonly version: string | null } | null;
  readonly components: SbomComponent[];
  /** VEX statements embedded in the SBOM (`vulnerabilities[]`), already resolved. */
  readonly vex: VexStatement[];
}

/** A CycloneDX VEX statement Vigil acts on (analysis.state not_affected or false_positive). */
export interface VexStatement {
  /** The vulnerability id (CVE-..., GHSA-..., an OSV id): matched against advisory ids and aliases. */
  readonly vulnerability: string;
  readonly packageKey: string;
  /** An exact version, or null for every version of the package. */
  readonly version: string | null;
  /** Limits the statement to the SBOM with this serial number (a BOM-Link), or null for any. */
  readonly sbomSerial: string | null;
  readonly state: "not_affected" | "false_positive";
  readonly justification: string | null;
  readonly detail: string | null;
}

export interface CycloneDxLimits {
  readonly maxBytes: number;
  readonly maxComponents: number;
}

export const DEFAULT_CYCLONEDX_LIMITS: CycloneDxLimits = { maxBytes: 16 * 1024 * 1024, maxComponents: 50_000 };

const MAX_DEPTH = 16;

export type SbomParseResult =
  | { readonly ok: true; readonly sbom: ParsedSbom; readonly issues: ImportIssue[] }
  | { readonly ok: false; readonly issues: ImportIssue[] };

/**
 * Parses a CycloneDX JSON document (text or an already-parsed value). Document-level problems
 * (not JSON, not CycloneDX, unsupported specVersion, too large) fail it with an error issue;
 * component-level ones are issues on that component only.
 */
export function parseCycloneDx(input: unknown, limits: CycloneDxLimits = DEFAULT_CYCLONEDX_LIMITS): SbomParseResult {
  const issues = new IssueList();
  const fail = (): SbomParseResult => ({ ok: false, issues: issues.list() });
  let value: unknown = input;
  if (typeof input === "string") {
    const bytes = Buffer.byteLength(input, "utf8");
    if (bytes > limits.maxBytes) {
      issues.add("error", "RECORD_TOO_LARGE", "", `the SBOM is ${bytes} bytes; the limit is ${limits.maxBytes}`);
      return fail();
    }
    try {
      value = JSON.parse(input);
    } catch (error) {
      issues.add("error", "JSON_MALFORMED", "", `not JSON: ${(error as Error).message}`);
      return fail();
    }
  }
  const parsed = bomSchema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues.slice(0, 20)) {
      issues.add("error", "SCHEMA_INVALID", jsonPath(issue.path), `${issue.message} (is this a CycloneDX JSON BOM?)`);
    }
    return fail();
  }
  const bom = parsed.data;
  if (!(CYCLONEDX_SPEC_VERSIONS as readonly string[]).includes(bom.specVersion)) {
    issues.add(
      "error",
      "SPEC_VERSION_UNSUPPORTED",
      "specVersion",
      `specVersion ${JSON.stringify(bom.specVersion.slice(0, 20))} is not supported; Vigil reads CycloneDX 1.5 and 1.6`,
    );
    return fail();
  }

  const components: SbomComponent[] = [];
  let count = 0;
  const walk = (list: readonly unknown[], path: string, depth: number): void => {
    if (depth > MAX_DEPTH) {
      issues.add("error", "TOO_MANY_ITEMS", path, `components are nested deeper than ${MAX_DEPTH} levels; the rest was skipped`);
      return;
    }
    list.forEach((raw, index) => {
      const where = `${path}[${index}]`;
      count += 1;
      if (count > limits.maxComponents) {
        if (count === limits.maxComponents + 1) {
          issues.add("error", "TOO_MANY_ITEMS", where, `more than ${limits.maxComponents} components; the rest was skipped`);
        }
        return;
      }
      const c = componentSchema.safeParse(raw);
      if (!c.success) {
        const first = c.error.issues[0];
        issues.add("error", "COMPONENT_INVALID", jsonPath(first?.path ?? [], where), first?.message ?? "invalid component");
        return;
      }
      components.push(toComponent(c.data, where, issues));
      if (c.data.components !== undefined) walk(c.data.components, `${where}.components`, depth + 1);
    });
  };
  if (bom.components !== undefined) walk(bom.components, "components", 0);

  let subject: ParsedSbom["subject"] = null;
  const meta = componentSchema.safeParse(bom.metadata?.component);
  if (meta.success) subject = { name: meta.data.name, version: meta.data.version ?? null };

  const vex = bom.vulnerabilities === undefined ? [] : readVex(bom.vulnerabilities, bom.serialNumber ?? null, components, issues);
  return {
    ok: true,
    sbom: {
      specVersion: bom.specVersion as ParsedSbom["specVersion"],
      serialNumber: bom.serialNumber?.toLowerCase() ?? null,
      bomVersion: bom.version ?? 1,
      subject,
      components,
      vex,
    },
    issues: issues.list(),
  };
}

function toComponent(c: z.infer<typeof componentSchema>, where: string, issues: IssueList): SbomComponent {
  const base = {
    name: c.name,
    group: c.group ?? null,
    version: c.version ?? null,
    type: c.type,
    purl: c.purl ?? null,
    bomRef: c["bom-ref"] ?? null,
  };
  if (c.purl === undefined) {
    issues.add("warning", "COMPONENT_NO_PURL", where, `component ${JSON.stringify(c.name.slice(0, 80))} has no purl`);
    return { ...base, packageKey: null, scheme: null, versionParses: false };
  }
  try {
    const purl = parsePurl(c.purl);
    const scheme = schemeOfPurlType(purl.type);
    const version = purl.version ?? c.version ?? null;
    let versionParses = false;
    if (version === null) {
      issues.add("warning", "VERSION_UNPARSABLE", `${where}.purl`, `component ${c.purl.slice(0, 120)} has no version`);
    } else {
      try {
        parseVersion(scheme, version);
        versionParses = true;
      } catch (error) {
        if (!(error instanceof VersionError)) throw error;
        issues.add("warning", "VERSION_UNPARSABLE", `${where}.version`, `${c.purl.slice(0, 120)}: ${error.message} (${scheme})`);
      }
    }
    return { ...base, version, packageKey: packageKey(purl), scheme, versionParses };
  } catch (error) {
    if (!(error instanceof PurlError)) throw error;
    issues.add("warning", error.code, `${where}.purl`, error.message);
    return { ...base, packageKey: null, scheme: null, versionParses: false };
  }
}

/**
 * CycloneDX VEX (https://cyclonedx.org/capabilities/vex/): `vulnerabilities[]` whose
 * `analysis.state` is `not_affected` or `false_positive` become statements. `affects[].ref`
 * may be a purl, a bom-ref of a component of this document, or a BOM-Link
 * (`urn:cdx:<serial>/<version>#<bom-ref>`) to a component of an SBOM Vigil holds; BOM-Links
 * to other SBOMs are resolved by the caller through `resolveLink`.
 */
export function readVex(
  vulnerabilities: readonly unknown[],
  ownSerial: string | null,
  ownComponents: readonly SbomComponent[],
  issues: IssueList,
  resolveLink?: (serial: string, bomRef: string) => SbomComponent | undefined,
): VexStatement[] {
  const byRef = new Map(ownComponents.filter((c) => c.bomRef !== null).map((c) => [c.bomRef as string, c]));
  const out: VexStatement[] = [];
  vulnerabilities.forEach((raw, index) => {
    const where = `vulnerabilities[${index}]`;
    const v = vulnerabilitySchema.safeParse(raw);
    if (!v.success) {
      const first = v.error.issues[0];
      issues.add("error", "SCHEMA_INVALID", jsonPath(first?.path ?? [], where), first?.message ?? "invalid vulnerability");
      return;
    }
    const state = v.data.analysis?.state;
    if (state !== "not_affected" && state !== "false_positive") {
      issues.add(
        "warning",
        "VEX_STATE_IGNORED",
        `${where}.analysis.state`,
        `${v.data.id}: state ${state ?? "(none)"} does not suppress`,
      );
      return;
    }
    (v.data.affects ?? []).forEach((affect, k) => {
      const ref = affect.ref;
      let component: Pick<SbomComponent, "packageKey" | "version"> | undefined;
      let sbomSerial: string | null = null;
      if (ref.startsWith("pkg:")) {
        try {
          const purl = parsePurl(ref);
          component = { packageKey: packageKey(purl), version: purl.version };
        } catch (error) {
          if (!(error instanceof PurlError)) throw error;
          issues.add("warning", error.code, `${where}.affects[${k}].ref`, error.message);
          return;
        }
      } else {
        const link = /^urn:cdx:([0-9a-f-]{36})\/(\d+)#(.+)$/i.exec(ref);
        if (link !== null) {
          const serial = `urn:uuid:${(link[1] as string).toLowerCase()}`;
          let bomRef: string;
          try {
            bomRef = decodeURIComponent(link[3] as string);
          } catch {
            // Found by the long parser fuzz: a bad percent-encoding threw URIError out of the import.
            issues.add(
              "warning",
              "VEX_REF_UNRESOLVED",
              `${where}.affects[${k}].ref`,
              `${v.data.id}: the BOM-Link ${ref.slice(0, 200)} has a bad percent-encoding`,
            );
            return;
          }
          sbomSerial = serial;
          component = serial === ownSerial ? byRef.get(bomRef) : resolveLink?.(serial, bomRef);
        } else {
          component = byRef.get(ref);
          sbomSerial = ownSerial;
        }
      }
      if (component === undefined || component.packageKey === null) {
        issues.add(
          "warning",
          "VEX_REF_UNRESOLVED",
          `${where}.affects[${k}].ref`,
          `${v.data.id}: ${ref.slice(0, 200)} names no known component`,
        );
        return;
      }
      out.push({
        vulnerability: v.data.id,
        packageKey: component.packageKey,
        version: component.version,
        sbomSerial,
        state,
        justification: v.data.analysis?.justification ?? null,
        detail: v.data.analysis?.detail?.slice(0, 1000) ?? null,
      });
    });
  });
  return out;
}

export type VexParseResult =
  | { readonly ok: true; readonly statements: VexStatement[]; readonly issues: ImportIssue[] }
  | { readonly ok: false; readonly issues: ImportIssue[] };

/** A standalone CycloneDX VEX document (a BOM whose point is its `vulnerabilities`). */
export function parseCycloneDxVex(
  input: unknown,
  resolveLink: (serial: string, bomRef: string) => SbomComponent | undefined,
  limits: CycloneDxLimits = DEFAULT_CYCLONEDX_LIMITS,
): VexParseResult {
  const doc = parseCycloneDx(input, limits);
  if (!doc.ok) return doc;
  const issues = new IssueList();
  // The document's own pass read `vulnerabilities` without BOM-Link resolution: read them again here.
  for (const i of doc.issues) if (!i.path.startsWith("vulnerabilities")) issues.add(i.level, i.code, i.path, i.message);
  let raw: unknown = input;
  if (typeof input === "string") raw = JSON.parse(input);
  const vulnerabilities = (raw as { vulnerabilities?: unknown[] }).vulnerabilities ?? [];
  if (vulnerabilities.length === 0) {
    issues.add("error", "SCHEMA_INVALID", "vulnerabilities", "a VEX document needs a non-empty vulnerabilities array");
    return { ok: false, issues: issues.list() };
  }
  const statements = readVex(vulnerabilities, doc.sbom.serialNumber, doc.sbom.components, issues, resolveLink);
  return { ok: true, statements, issues: issues.list() };
}
