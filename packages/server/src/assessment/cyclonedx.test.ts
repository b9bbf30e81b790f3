import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { parseCycloneDx, parseCycloneDxVex } from "./cyclonedx.js";

const fixtures = fileURLToPath(new URL("../../test/fixtures/assessment/", import.meta.url));
const read = (name: string) => readFileSync(join(fixtures, name), "utf8");

test("a CycloneDX 1.6 firmware SBOM: nested components, purls, and a warning per unusable component", () => {
  const r = parseCycloneDx(read("sbom-smart-meter-2.4.1.cdx.json"));
  assert.ok(r.ok);
  assert.equal(r.sbom.specVersion, "1.6");
  assert.equal(r.sbom.serialNumber, "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79");
  assert.deepEqual(r.sbom.subject, { name: "acme-meter-firmware", version: "2.4.1" });
  assert.equal(r.sbom.components.length, 11, "ten top-level components and one nested");
  assert.ok(r.sbom.components.some((c) => c.name === "paho-mqtt" && c.packageKey === "pypi/paho-mqtt" && c.scheme === "pep440"));
  assert.deepEqual(
    r.issues.map((i) => `${i.level}:${i.code}:${i.path}`),
    [
      "warning:COMPONENT_NO_PURL:components[7]",
      "warning:PURL_TYPE_UNKNOWN:components[8].purl",
      "warning:VERSION_UNPARSABLE:components[9].version",
    ],
  );
  const v15 = parseCycloneDx(read("sbom-smart-meter-2.5.0.cdx.json"));
  assert.ok(v15.ok && v15.sbom.specVersion === "1.5" && v15.issues.length === 0);
});

test("embedded and standalone CycloneDX VEX become statements; BOM-Links resolve to the SBOM's component", () => {
  const camera = parseCycloneDx(read("sbom-ip-camera-1.0.0.cdx.json"));
  assert.ok(camera.ok);
  assert.deepEqual(
    camera.sbom.vex.map((s) => [s.vulnerability, s.packageKey, s.version, s.state]),
    [["VGL-2025-0009", "generic/libjpeg-turbo", "2.1.4", "not_affected"]],
  );
  const meter = parseCycloneDx(read("sbom-smart-meter-2.4.1.cdx.json"));
  assert.ok(meter.ok);
  const vex = parseCycloneDxVex(read("vex-smart-meter.cdx.json"), (serial, ref) =>
    serial === meter.sbom.serialNumber ? meter.sbom.components.find((c) => c.bomRef === ref) : undefined,
  );
  assert.ok(vex.ok);
  assert.deepEqual(
    vex.statements.map((s) => [s.vulnerability, s.packageKey, s.sbomSerial]),
    [["CVE-2099-1002", "generic/busybox", meter.sbom.serialNumber]],
  );
  assert.deepEqual(
    vex.issues.map((i) => i.code),
    ["VEX_STATE_IGNORED"],
    "in_triage does not suppress",
  );
});

test("a VEX BOM-Link with a bad percent-encoding is a warning on that statement, not an exception (found by the long fuzz run)", () => {
  const meter = parseCycloneDx(read("sbom-smart-meter-2.4.1.cdx.json"));
  assert.ok(meter.ok);
  const doc = JSON.parse(read("vex-smart-meter.cdx.json")) as {
    vulnerabilities: { affects: { ref: string }[] }[];
  };
  const good = doc.vulnerabilities.length;
  const first = doc.vulnerabilities[0];
  assert.ok(first !== undefined);
  doc.vulnerabilities.push({
    ...first,
    affects: [{ ref: `urn:cdx:${"0".repeat(8)}-0000-0000-0000-${"0".repeat(12)}/1#%E0%A4%A` }],
  });
  const vex = parseCycloneDxVex(doc, () => undefined);
  assert.ok(vex.ok, "the document is still imported");
  const bad = vex.issues.filter((i) => i.path === `vulnerabilities[${good}].affects[0].ref`);
  assert.deepEqual(
    bad.map((i) => i.code),
    ["VEX_REF_UNRESOLVED"],
  );
  assert.match(bad[0]?.message ?? "", /bad percent-encoding/);
});

test("bad SBOMs fail with one clear error each: wrong spec version, not CycloneDX, truncated, huge, too many components", () => {
  const first = (text: string, limits?: { maxBytes: number; maxComponents: number }) => {
    const r = parseCycloneDx(text, limits);
    return r.ok ? "ok" : r.issues[0]?.code;
  };
  assert.equal(first(read("sbom-bad-spec-1.2.cdx.json")), "SPEC_VERSION_UNSUPPORTED");
  assert.equal(first(read("sbom-not-cyclonedx.spdx.json")), "SCHEMA_INVALID");
  assert.equal(first(read("sbom-truncated.cdx.json")), "JSON_MALFORMED");
  assert.equal(first(read("sbom-smart-meter-2.4.1.cdx.json"), { maxBytes: 1000, maxComponents: 10 }), "RECORD_TOO_LARGE");
  const many = JSON.stringify({
    bomFormat: "CycloneDX",
    specVersion: "1.6",
    components: Array.from({ length: 30 }, (_, i) => ({
      type: "library",
      name: `c${i}`,
      version: "1.0.0",
      purl: `pkg:npm/c${i}@1.0.0`,
    })),
  });
  const r = parseCycloneDx(many, { maxBytes: 1 << 20, maxComponents: 20 });
  assert.ok(r.ok, "too many components: the first ones are kept, the rest reported");
  assert.equal(r.sbom.components.length, 20);
  assert.equal(r.issues[0]?.code, "TOO_MANY_ITEMS");
  const deep = parseCycloneDx(
    JSON.stringify({
      bomFormat: "CycloneDX",
      specVersion: "1.6",
      components: [
        { type: "nonsense", name: "x" },
        { type: "library", name: "ok", purl: "pkg:npm/ok@1.0.0" },
      ],
    }),
  );
  assert.ok(deep.ok && deep.sbom.components.length === 1 && deep.issues[0]?.code === "COMPONENT_INVALID");
});
