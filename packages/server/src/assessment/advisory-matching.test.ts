import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { matchAffected, matchSbom } from "./advisory-matching.js";
import { parseCycloneDx } from "./cyclonedx.js";
import { parseOsv, type Advisory } from "./osv.js";

const fixtures = fileURLToPath(new URL("../../test/fixtures/assessment/", import.meta.url));
const read = (name: string) => readFileSync(join(fixtures, name), "utf8");

function advisories(): Advisory[] {
  const out: Advisory[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith(".json")) {
        const parsed: unknown = JSON.parse(readFileSync(join(dir, e.name), "utf8"));
        for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
          const r = parseOsv(item);
          assert.ok(r.ok, `${e.name}: ${JSON.stringify(r.issues)}`);
          out.push(r.advisory);
        }
      }
    }
  };
  walk(join(fixtures, "osv"));
  return out;
}

test("OSV fixtures normalise: package keys, schemes, CVSS-derived severity, publisher rating for CVSS v4", () => {
  const byId = new Map(advisories().map((a) => [a.id, a]));
  assert.equal(byId.size, 9);
  const openssl = byId.get("VGL-2025-0001")!;
  assert.equal(openssl.severity, "critical");
  assert.equal(openssl.cvss, 9.8);
  assert.deepEqual(openssl.aliases, ["CVE-2099-1001"]);
  assert.equal(openssl.affected[0]?.packageKey, "generic/openssl");
  const zlib = byId.get("VGL-2025-0003")!;
  assert.equal(zlib.severity, "medium", "CVSS v4 only: the publisher's MODERATE");
  assert.equal(zlib.cvss, null);
  assert.equal(byId.get("VGL-2025-0004")?.affected[0]?.packageKey, "pypi/paho-mqtt");
  assert.equal(byId.get("VGL-2025-0004")?.affected[0]?.ranges[0]?.scheme, "pep440");
  assert.equal(byId.get("VGL-2025-0005")?.cvss, 6.1);
  assert.equal(byId.get("VGL-2025-0006")?.affected[0]?.packageKey, "deb/debian/expat");
  assert.equal(byId.get("VGL-2025-0006")?.severity, "unknown");
  assert.notEqual(byId.get("VGL-2025-0007")?.withdrawn, null);
  // The GIT range is kept out (with a warning), the ECOSYSTEM one kept.
  assert.equal(byId.get("VGL-2025-0005")?.affected[0]?.ranges.length, 1);
});

test("OSV range evaluation: introduced/fixed pairs, last_affected, explicit versions, and the fix to suggest", () => {
  const pkg = {
    packageKey: "generic/openssl",
    ecosystem: "OSS-Fuzz",
    severity: null,
    versions: ["2.9.9-special"],
    ranges: [
      {
        scheme: "generic" as const,
        events: [{ introduced: "3.0.0" }, { fixed: "3.0.8" }, { introduced: "3.1.0" }, { fixed: "3.1.1" }],
      },
    ],
  };
  assert.deepEqual(matchAffected(pkg, "3.0.7"), { affected: true, fixedVersion: "3.0.8" });
  assert.deepEqual(matchAffected(pkg, "3.0.8"), { affected: false, fixedVersion: null });
  assert.deepEqual(matchAffected(pkg, "3.1.0"), { affected: true, fixedVersion: "3.1.1" });
  assert.deepEqual(matchAffected(pkg, "2.9.9"), { affected: false, fixedVersion: null });
  assert.deepEqual(matchAffected(pkg, "2.9.9-special"), { affected: true, fixedVersion: null }, "explicit versions list");
  const last = {
    ...pkg,
    versions: [],
    ranges: [{ scheme: "generic" as const, events: [{ introduced: "2.0.0" }, { last_affected: "2.28.2" }] }],
  };
  assert.equal(matchAffected(last, "2.28.2").affected, true);
  assert.equal(matchAffected(last, "2.28.3").affected, false);
  const semver = {
    ...pkg,
    versions: [],
    ranges: [{ scheme: "semver" as const, events: [{ introduced: "0" }, { fixed: "1.36.1" }] }],
  };
  assert.throws(() => matchAffected(semver, "r42"), /not a SemVer/, "an unparsable version is an error, never 'not affected'");
});

test("an SBOM matched against the fixtures: findings with fixes, VEX suppression, unparsable versions reported", () => {
  const sbom = parseCycloneDx(read("sbom-smart-meter-2.4.1.cdx.json"));
  assert.ok(sbom.ok);
  const all = advisories();
  const byKey = new Map<string, Advisory[]>();
  for (const a of all) for (const p of a.affected) byKey.set(p.packageKey, [...(byKey.get(p.packageKey) ?? []), a]);
  const result = matchSbom({
    components: sbom.sbom.components,
    sbomSerial: sbom.sbom.serialNumber,
    advisoriesFor: (k) => byKey.get(k) ?? [],
    vex: [],
  });
  const found = result.matches.map((m) => `${m.advisory.id}:${m.component.name}:${m.fixedVersion ?? "-"}`).sort();
  assert.deepEqual(found, [
    "VGL-2025-0001:openssl:3.0.8",
    "VGL-2025-0002:busybox:1.36.1",
    "VGL-2025-0003:zlib:-",
    "VGL-2025-0004:paho-mqtt:2.0.0",
    "VGL-2025-0005:mbedtls:-",
    "VGL-2025-0006:expat:2.5.0-1+deb12u1",
  ]);
  const suppressed = matchSbom({
    components: sbom.sbom.components,
    sbomSerial: sbom.sbom.serialNumber,
    advisoriesFor: (k) => byKey.get(k) ?? [],
    vex: [
      {
        vulnerability: "CVE-2099-1002",
        packageKey: "generic/busybox",
        version: "1.35.0",
        sbomSerial: sbom.sbom.serialNumber,
        state: "not_affected",
        justification: null,
        detail: null,
      },
    ],
  });
  assert.equal(suppressed.matches.length, 5);
  assert.equal(suppressed.suppressed[0]?.match.advisory.id, "VGL-2025-0002", "matched through the alias");
  // Newer firmware: every one fixed.
  const newer = parseCycloneDx(read("sbom-smart-meter-2.5.0.cdx.json"));
  assert.ok(newer.ok);
  assert.equal(
    matchSbom({ components: newer.sbom.components, sbomSerial: null, advisoriesFor: (k) => byKey.get(k) ?? [], vex: [] }).matches
      .length,
    0,
  );
});

test("bad OSV records: each is refused with a clear code, and a mixed record keeps its good package", () => {
  const code = (name: string) => {
    const r = parseOsv(read(`osv-bad/${name}`));
    return r.ok ? `ok:${r.issues.map((i) => i.code).join(",")}` : r.issues.map((i) => i.code).join(",");
  };
  assert.equal(code("malformed.json"), "JSON_MALFORMED");
  assert.match(code("schema-invalid.json"), /^SCHEMA_INVALID/);
  assert.equal(code("unknown-purl-type.json"), "PURL_TYPE_UNKNOWN,NO_USABLE_PACKAGE");
  assert.equal(code("unparsable-version.json"), "VERSION_UNPARSABLE,VERSION_UNPARSABLE,NO_USABLE_PACKAGE");
  assert.equal(code("unknown-ecosystem.json"), "ECOSYSTEM_UNKNOWN,NO_USABLE_PACKAGE");
  assert.equal(code("mixed.json"), "ok:VERSION_UNPARSABLE");
  const huge = JSON.stringify({ id: "VGL-HUGE", modified: "2025-01-01T00:00:00Z", details: "x".repeat(2 * 1024 * 1024) });
  const r = parseOsv(huge);
  assert.ok(!r.ok && r.issues[0]?.code === "RECORD_TOO_LARGE");
});
