import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import type {
  CheckRunDto,
  FindingListResponse,
  ImportAdvisoriesResponse,
  ImportSbomResponse,
  ImportVexResponse,
} from "@vigil/contract";
import Database from "better-sqlite3";
import { REPORT_SECTIONS, type ComplianceReport } from "../src/assessment/index.js";
import { ManualClock } from "../src/core/index.js";
import { callApi } from "../src/cli/client.js";
import { estPost, opensslCsr, opensslCsrForKey } from "./est-support.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";

const exec = promisify(execFile);
const fixtures = fileURLToPath(new URL("./fixtures/assessment/", import.meta.url));
const fixture = (name: string) => readFileSync(join(fixtures, name), "utf8");

/** Every *.json file of a fixture directory, as the CLI sends them. */
function osvRecords(dir: string): { source: string; content: string }[] {
  const out: { source: string; content: string }[] = [];
  const walk = (path: string) => {
    for (const e of readdirSync(path, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(path, e.name));
      else if (e.name.endsWith(".json"))
        out.push({ source: join(path, e.name).slice(fixtures.length), content: readFileSync(join(path, e.name), "utf8") });
    }
  };
  walk(join(fixtures, dir));
  return out;
}

const clock = new ManualClock(Date.now());
const work = tempDir("vigil-assessment-");
let t: TestPlatform;

/** Enrolls a device over EST with a claim token and a declared posture (the real path). */
async function enroll(id: string, profile: string, posture: Record<string, unknown>, key?: string): Promise<void> {
  const { data } = await callApi<{ tokens: string[] }>(t.admin, "POST", "/api/v1/enrollment-tokens", { profile });
  const csr = key === undefined ? await opensslCsr(work.path, id, id) : await opensslCsrForKey(work.path, id, id, key);
  const res = await estPost(t.platform.url, t.platform.ca, "/.well-known/est/simpleenroll", csr.body, {
    auth: `${id}:${data.tokens[0]}`,
    headers: { "vigil-posture": Buffer.from(JSON.stringify({ profile, ...posture })).toString("base64url") },
  });
  assert.equal(res.status, 200, res.text);
}

before(async () => {
  // Scheduled runs off: the test runs the checks itself.
  t = await startPlatform({ clock, flags: { "assessment-check-interval-seconds": "0" } });
  // A small fleet: four meters on two firmware versions, a camera, a pump that shares a
  // meter's key (a cloned image), and a revoked meter.
  await enroll("meter-1", "smart-meter", { firmwareVersion: "2.4.1" });
  await enroll("meter-2", "smart-meter", { firmwareVersion: "2.4.1", sbomRef: "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" });
  await enroll("meter-3", "smart-meter", { firmwareVersion: "2.5.0" });
  await enroll("meter-4", "smart-meter", { firmwareVersion: "2.4.1" });
  await enroll("cam-1", "ip-camera", { firmwareVersion: "1.0.0" });
  await enroll("pump-1", "infusion-pump", { firmwareVersion: "7.1" }, join(work.path, "meter-3.key"));
  await t.platform.identity.revokeDevice("meter-4", "keyCompromise", "test");
  // A long-lived unused claim token.
  await callApi(t.admin, "POST", "/api/v1/enrollment-tokens", { profile: "smart-meter", ttlSeconds: 30 * 86_400 });
});
after(async () => {
  await t.stop();
  work.remove();
});

async function auditActions(): Promise<{ action: string; details: Record<string, unknown> }[]> {
  await t.platform.audit.flush();
  const page = await t.platform.audit.list({ after: 0, limit: 10_000 });
  return page.items.map((e) => ({ action: e.action, details: JSON.parse(e.details) as Record<string, unknown> }));
}

test("SBOM and OSV import over the API: findings per device, fix versions, VEX suppression, signals to trust", async () => {
  const meter = await callApi<ImportSbomResponse>(t.admin, "POST", "/api/v1/sboms", {
    profile: "smart-meter",
    document: JSON.parse(fixture("sbom-smart-meter-2.4.1.cdx.json")) as Record<string, unknown>,
  });
  assert.equal(meter.data.sbom.firmwareVersion, "2.4.1", "taken from metadata.component.version");
  assert.equal(meter.data.sbom.componentCount, 11);
  assert.deepEqual(
    meter.data.issues.map((i) => i.code),
    ["COMPONENT_NO_PURL", "PURL_TYPE_UNKNOWN", "VERSION_UNPARSABLE"],
  );
  await callApi(t.admin, "POST", "/api/v1/sboms", {
    profile: "smart-meter",
    firmwareVersion: "2.5.0",
    document: fixture("sbom-smart-meter-2.5.0.cdx.json"),
  });
  await callApi(t.admin, "POST", "/api/v1/sboms", { profile: "ip-camera", document: fixture("sbom-ip-camera-1.0.0.cdx.json") });

  // Good and bad records in one import: the bad are reported one by one, the good go in.
  const imported = await callApi<ImportAdvisoriesResponse>(t.admin, "POST", "/api/v1/advisories/import", {
    records: [...osvRecords("osv"), ...osvRecords("osv-bad")],
  });
  const d = imported.data;
  assert.equal(d.records, 15, "fourteen files, one of them an array of two");
  assert.equal(d.imported, 10, "nine good records and the mixed one");
  assert.equal(d.rejected, 5);
  const rejected = Object.fromEntries(d.results.filter((r) => r.status === "rejected").map((r) => [r.source, r.issues[0]?.code]));
  assert.deepEqual(rejected, {
    "osv-bad/malformed.json": "JSON_MALFORMED",
    "osv-bad/schema-invalid.json": "SCHEMA_INVALID",
    "osv-bad/unknown-ecosystem.json": "ECOSYSTEM_UNKNOWN",
    "osv-bad/unknown-purl-type.json": "PURL_TYPE_UNKNOWN",
    "osv-bad/unparsable-version.json": "VERSION_UNPARSABLE",
  });
  const mixed = d.results.find((r) => r.id === "VGL-2025-0010");
  assert.deepEqual([mixed?.status, mixed?.issues.map((i) => i.code)], ["imported", ["VERSION_UNPARSABLE"]]);

  const open = await callApi<FindingListResponse>(t.admin, "GET", "/api/v1/vulnerabilities?status=open");
  const byDevice = (id: string) =>
    open.data.items
      .filter((f) => f.device === id)
      .map((f) => `${f.advisory}@${f.fixedVersion ?? "-"}`)
      .sort();
  assert.deepEqual(byDevice("meter-1"), [
    "VGL-2025-0001@3.0.8",
    "VGL-2025-0002@1.36.1",
    "VGL-2025-0003@-",
    "VGL-2025-0004@2.0.0",
    "VGL-2025-0005@-",
    "VGL-2025-0006@2.5.0-1+deb12u1",
  ]);
  assert.deepEqual(byDevice("meter-2"), byDevice("meter-1"), "found through its declared sbomRef");
  assert.deepEqual(byDevice("meter-3"), [], "2.5.0 fixes them all");
  assert.deepEqual(byDevice("cam-1"), ["VGL-2025-0001@3.0.8"], "libjpeg suppressed by the SBOM's own VEX");
  assert.deepEqual(byDevice("meter-4"), [], "revoked devices are not scanned");
  assert.equal(open.data.items.find((f) => f.advisory === "VGL-2025-0001")?.severity, "critical");

  // Standalone VEX: busybox is not affected on meters (matched through the CVE alias).
  const vex = await callApi<ImportVexResponse>(t.admin, "POST", "/api/v1/vex", { document: fixture("vex-smart-meter.cdx.json") });
  assert.equal(vex.data.statements, 1);
  assert.equal(vex.data.scan.resolvedFindings, 2);
  const resolved = await callApi<FindingListResponse>(t.admin, "GET", "/api/v1/vulnerabilities?status=resolved&device=meter-1");
  assert.deepEqual(
    resolved.data.items.map((f) => [f.advisory, f.resolution]),
    [["VGL-2025-0002", "vex"]],
  );

  const actions = await auditActions();
  const found = actions.filter((a) => a.action === "vulnerability.found");
  assert.equal(found.length, 6 + 6 + 1, "one signal per device and advisory");
  assert.deepEqual(found.find((a) => a.details.device === "cam-1")?.details, {
    device: "cam-1",
    advisoryId: "VGL-2025-0001",
    severity: "critical",
    cvss: 9.8,
  });
  assert.equal(found.find((a) => a.details.advisoryId === "VGL-2025-0006")?.details.severity, "medium", "no rating: medium");
  assert.equal(actions.filter((a) => a.action === "vulnerability.resolved").length, 2);
  for (const name of ["sbom.imported", "advisories.imported", "vex.imported"])
    assert.ok(
      actions.some((a) => a.action === name),
      name,
    );
});

test("a verified firmware update (ota.installed) closes the vulnerabilities it fixes", async () => {
  const resolved: string[] = [];
  const off = t.platform.bus.on("vulnerability.resolved", (p) => {
    if (p.device === "meter-1") resolved.push(p.advisoryId);
  });
  try {
    const db = new Database(join(t.dir, "data", "vigil.db"));
    db.prepare("UPDATE devices SET firmware_version = '2.5.0' WHERE id = 'meter-1'").run();
    db.close();
    t.platform.bus.emit("ota.installed", { device: "meter-1", version: "2.5.0", previousVersion: "2.4.1", campaign: "test" });
    const deadline = Date.now() + 15_000;
    let open: FindingListResponse["items"] = [];
    do {
      await new Promise((r) => setTimeout(r, 100));
      open = (await callApi<FindingListResponse>(t.admin, "GET", "/api/v1/vulnerabilities?status=open&device=meter-1")).data
        .items;
    } while (open.length > 0 && Date.now() < deadline);
    assert.deepEqual(open, [], "2.5.0 fixes every open finding of meter-1");
    assert.ok(resolved.length >= 4, `vulnerability.resolved for the fixed advisories, got ${resolved.join(", ")}`);
  } finally {
    off();
    // Put meter-1 back on 2.4.1 for the tests that follow (its findings reopen on the next scan).
    const db = new Database(join(t.dir, "data", "vigil.db"));
    db.prepare("UPDATE devices SET firmware_version = '2.4.1' WHERE id = 'meter-1'").run();
    db.close();
    await callApi(t.admin, "POST", "/api/v1/vulnerabilities/scan");
  }
});

test("bad SBOM input over the API: a clear SBOM_INVALID per document, nothing imported", async () => {
  for (const name of ["sbom-bad-spec-1.2.cdx.json", "sbom-not-cyclonedx.spdx.json", "sbom-truncated.cdx.json"]) {
    await assert.rejects(
      callApi(t.admin, "POST", "/api/v1/sboms", { profile: "smart-meter", firmwareVersion: "9.9.9", document: fixture(name) }),
      (e: { code?: string; status?: number }) => e.code === "SBOM_INVALID" && e.status === 400,
      name,
    );
  }
  // Larger than the route's limit: 413 before it is parsed.
  const huge = JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.6", pad: "x".repeat(17 * 1024 * 1024) });
  await assert.rejects(
    callApi(t.admin, "POST", "/api/v1/sboms", { profile: "smart-meter", firmwareVersion: "9.9.9", document: huge }),
    (e: { code?: string }) => e.code === "REQUEST_TOO_LARGE",
  );
  const list = await callApi<{ items: { firmwareVersion: string }[] }>(t.admin, "GET", "/api/v1/sboms");
  assert.ok(!list.data.items.some((s) => s.firmwareVersion === "9.9.9"));
});

test("audit checks: stable ids, each with a remediation, computed from the live fleet", async () => {
  const { data } = await callApi<CheckRunDto>(t.admin, "POST", "/api/v1/audit-checks/run", {});
  const byId = new Map(data.results.map((r) => [r.id, r]));
  for (const id of [
    "ca-cert-expiring",
    "device-cert-expiring",
    "device-cert-too-old",
    "device-cert-shared-key",
    "device-cert-weak-key",
    "revoked-cert-connected",
    "profile-overly-permissive",
    "client-id-conflict",
    "legacy-password-auth",
    "weak-default-password",
    "firmware-outdated",
    "enrollment-token-unused",
    "enrollment-token-long-lived",
    "audit-logging-disabled",
    "vulnerable-firmware",
    "sbom-missing",
  ]) {
    const r = byId.get(id);
    assert.ok(r, id);
    assert.ok(r.remediation.length > 20, `${id} has a remediation hint`);
  }
  assert.equal(byId.get("device-cert-shared-key")?.status, "fail");
  assert.deepEqual(byId.get("device-cert-shared-key")?.affected.sort(), ["meter-3", "pump-1"]);
  assert.equal(byId.get("firmware-outdated")?.status, "fail");
  assert.deepEqual(byId.get("firmware-outdated")?.affected.sort(), ["meter-1", "meter-2"]);
  assert.equal(byId.get("enrollment-token-long-lived")?.status, "fail");
  assert.equal(byId.get("legacy-password-auth")?.status, "not_applicable");
  assert.equal(byId.get("audit-logging-disabled")?.status, "pass");
  assert.equal(byId.get("revoked-cert-connected")?.status, "pass", "the gateway's live sessions were asked");
  assert.equal(byId.get("vulnerable-firmware")?.status, "fail");
  assert.deepEqual(byId.get("sbom-missing")?.affected, ["pump-1"]);
  assert.equal(byId.get("ca-cert-expiring")?.status, "pass");
  // A month later the 30-day device certificates are expired: the same check fails.
  clock.advance(31 * 86_400_000);
  try {
    // (Through the service: the API token would have expired too.)
    const later = await t.platform.assessment.runChecks("on-demand", ["device-cert-expiring"]);
    assert.equal(later.results.length, 1);
    assert.equal(later.results[0]?.status, "fail");
    assert.deepEqual(later.results[0]?.affected.sort(), ["cam-1", "meter-1", "meter-2", "meter-3", "pump-1"]);
  } finally {
    clock.advance(-31 * 86_400_000);
  }
  await assert.rejects(
    callApi(t.admin, "POST", "/api/v1/audit-checks/run", { checks: ["no-such-check"] }),
    (e: { code?: string }) => e.code === "AUDIT_CHECK_UNKNOWN",
  );
  assert.ok((await auditActions()).some((a) => a.action === "assessment.checks_completed"));
});

async function download(format: string, vertical?: string): Promise<{ body: Buffer; sha256: string; type: string }> {
  const { request } = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(`/api/v1/reports/compliance?format=${format}${vertical ? `&vertical=${vertical}` : ""}`, t.platform.url),
      { ca: t.platform.ca, headers: { authorization: `Bearer ${t.admin.token}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          res.statusCode === 200
            ? resolve({
                body: Buffer.concat(chunks),
                sha256: String(res.headers["x-vigil-content-sha256"]),
                type: String(res.headers["content-type"]),
              })
            : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

test("compliance report as JSON: every framework, statuses from evidence, nothing assessed without a source", async () => {
  const { body, sha256, type } = await download("json", "healthcare");
  assert.match(type, /application\/json/);
  const report = JSON.parse(body.toString("utf8")) as ComplianceReport;
  assert.deepEqual(report.sections, [...REPORT_SECTIONS]);
  assert.equal(report.fleet.devices, 6);
  assert.equal(report.scorecard.vertical, "healthcare");
  assert.equal(report.scorecard.outcomes.length, 6);
  assert.ok(report.scorecard.overall !== null && report.scorecard.overall < 100 && report.scorecard.overall > 0);
  const weights = report.scorecard.outcomes.reduce((n, o) => n + o.weight, 0);
  assert.ok(Math.abs(weights - 1) < 1e-9);
  const frameworks = new Map(report.frameworks.map((f) => [f.id, f]));
  const csf = frameworks.get("nist-csf-2.0")!;
  for (const prefix of ["GV.", "ID.", "PR.", "DE.", "RS.", "RC."])
    assert.ok(
      csf.controls.some((c) => c.ref.startsWith(prefix)),
      prefix,
    );
  assert.equal(new Set(frameworks.get("nist-ir-8259a")!.controls.map((c) => c.group)).size, 6, "six device capabilities");
  const etsi = frameworks.get("etsi-en-303-645")!;
  assert.equal(new Set(etsi.controls.map((c) => c.group)).size, 13, "13 provision groups");
  const p51 = etsi.controls.find((c) => c.ref === "5.1")!;
  assert.ok(p51.evidence.some((e) => e.label === "devices with default credentials" && e.value === 0));
  assert.equal(p51.status, "fail", "a key shared between two devices fails 5.1 too");
  for (const c of report.frameworks.flatMap((f) => f.controls)) {
    if (c.status === "not_assessed") assert.ok(c.reason && c.reason.length > 10, `${c.ref} says why it is not assessed`);
    if (c.status === "pass") assert.ok(c.evidence.length > 0, `${c.ref} passes on evidence`);
  }
  assert.equal(etsi.controls.find((c) => c.ref === "5.7")?.status, "not_assessed");
  assert.equal(report.vulnerabilities.openFindings > 0, true);
  // The hash of exactly these bytes is in the audit log.
  assert.equal(sha256, (await import("node:crypto")).createHash("sha256").update(body).digest("hex"));
  const generated = (await auditActions()).filter((a) => a.action === "report.generated");
  assert.ok(generated.some((g) => g.details.sha256 === sha256 && g.details.format === "json" && g.details.by === "admin"));
});

test("compliance report of the fleet as HTML and as PDF: it opens and has every section", async (ctx) => {
  const html = await download("html");
  assert.match(html.type, /text\/html/);
  const text = html.body.toString("utf8");
  for (const section of REPORT_SECTIONS) assert.ok(text.includes(`>${section}</h2>`), `HTML has ${section}`);
  assert.ok(!/<script/i.test(text));

  const pdf = await download("pdf");
  assert.equal(pdf.type, "application/pdf");
  assert.equal(pdf.body.subarray(0, 5).toString(), "%PDF-");
  const generated = (await auditActions()).filter((a) => a.action === "report.generated" && a.details.format === "pdf");
  assert.ok(generated.some((g) => g.details.sha256 === pdf.sha256));

  if (spawnSync("pdftotext", ["-v"]).error !== undefined) {
    if (process.env.CI === "true") assert.fail("pdftotext (poppler-utils) is required in CI: apt-get install -y poppler-utils");
    ctx.skip("pdftotext is not installed (apt-get install poppler-utils); the PDF's text was not checked");
    return;
  }
  const file = join(work.path, "report.pdf");
  writeFileSync(file, pdf.body);
  const info = await exec("pdfinfo", [file]);
  assert.match(info.stdout, /Pages:\s+[1-9]/);
  assert.match(info.stdout, /Title:\s+Vigil compliance report/);
  const { stdout } = await exec("pdftotext", ["-layout", file, "-"]);
  for (const section of REPORT_SECTIONS) assert.ok(stdout.includes(section), `PDF has ${section}`);
  for (const fact of [
    "device-cert-shared-key",
    "VGL-2025-0001",
    "5.13 Validate input data",
    "8259A-DI",
    "PR.AA-01",
    "NOT ASSESSED",
  ]) {
    assert.ok(stdout.includes(fact), `PDF mentions ${fact}`);
  }
});
