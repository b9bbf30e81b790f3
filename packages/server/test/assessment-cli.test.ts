import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";
import { after, before, test } from "node:test";
import { saveToken } from "../src/cli/credentials.js";
import { runCli, startPlatform, tempDir, type TestPlatform } from "./support.js";

const fixtures = fileURLToPath(new URL("./fixtures/assessment/", import.meta.url));

/** A ZIP (stored entries, APPNOTE 6.3.x §4.3) of the given files: enough for the importer. */
function zip(entries: readonly { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.data);
    centrals.push(central, name);
    offset += local.length + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

function filesOf(dir: string): { name: string; data: Buffer }[] {
  return readdirSync(join(fixtures, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const full = join(e.parentPath, e.name);
      return { name: full.slice(fixtures.length), data: readFileSync(full) };
    });
}

const work = tempDir("vigil-assessment-cli-");
let t: TestPlatform;
let env: NodeJS.ProcessEnv;
let cli: (args: string[]) => ReturnType<typeof runCli>;

before(async () => {
  t = await startPlatform({ flags: { "assessment-check-interval-seconds": "0" } });
  env = { XDG_CONFIG_HOME: join(work.path, "xdg") };
  await saveToken(
    t.platform.url,
    { token: t.admin.token as string, operator: "admin", expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
    join(work.path, "xdg", "vigil", "credentials.json"),
  );
  cli = (args) => runCli(["--server", t.platform.url, "--ca-file", t.platform.caFile, ...args], { env });
});
after(async () => {
  await t.stop();
  work.remove();
});

test("vigil advisories import ZIP: good records imported, broken ones reported one by one; not a ZIP is a clear error", async () => {
  const file = join(work.path, "osv.zip");
  writeFileSync(file, zip([...filesOf("osv"), ...filesOf("osv-bad")]));
  const run = await cli(["advisories", "import", file]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Read 15 record\(s\) from .*: 10 imported \(10 new, 0 updated, 0 unchanged\), 5 rejected\./);
  assert.match(run.stdout, /REJECTED osv-bad\/unknown-purl-type\.json \(VGL-BAD-0003\):\n {2}ERROR PURL_TYPE_UNKNOWN/);
  assert.match(run.stdout, /REJECTED osv-bad\/unparsable-version\.json .*\n {2}ERROR VERSION_UNPARSABLE/);
  assert.match(run.stdout, /REJECTED osv-bad\/malformed\.json:\n {2}ERROR JSON_MALFORMED/);

  // The same directory again, as a directory: nothing new.
  const again = await cli(["--json", "advisories", "import", join(fixtures, "osv")]);
  assert.equal(again.code, 0, again.stderr);
  const result = JSON.parse(again.stdout) as { imported: number; inserted: number };
  assert.equal(result.imported, 9);
  assert.equal(result.inserted, 0);

  const notZip = join(work.path, "not.zip");
  writeFileSync(notZip, "PK\u0003\u0004 this is not really a zip");
  const bad = await cli(["advisories", "import", notZip]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^vigil: ADVISORY_SOURCE_UNREADABLE: /m);
});

test("vigil sbom import, audit-checks run, report compliance --format pdf --out FILE", async () => {
  const sbom = await cli(["sbom", "import", join(fixtures, "sbom-smart-meter-2.4.1.cdx.json"), "--profile", "smart-meter"]);
  assert.equal(sbom.code, 0, sbom.stderr);
  assert.match(sbom.stdout, /Imported SBOM .*: smart-meter firmware 2\.4\.1, 11 component\(s\), CycloneDX 1\.6/);
  assert.match(sbom.stdout, /WARNING PURL_TYPE_UNKNOWN components\[8\]\.purl/);

  const badSbom = await cli(["sbom", "import", join(fixtures, "sbom-bad-spec-1.2.cdx.json"), "--firmware", "1.0"]);
  assert.equal(badSbom.code, 1);
  assert.match(badSbom.stderr, /SBOM_INVALID: .*specVersion "1\.2" is not supported/);

  const checks = await cli(["audit-checks", "run"]);
  assert.match(checks.stdout, /^ID\s+STATUS\s+SEVERITY/m);
  assert.match(checks.stdout, /^audit-logging-disabled\s+PASS/m);
  assert.match(checks.stdout, /^legacy-password-auth\s+NOT_APPLICABLE/m);

  const out = join(work.path, "report.pdf");
  const report = await cli(["report", "compliance", "--format", "pdf", "--vertical", "industrial", "--out", out]);
  assert.equal(report.code, 0, report.stderr);
  const body = readFileSync(out);
  assert.equal(body.subarray(0, 5).toString(), "%PDF-");
  const sha = createHash("sha256").update(body).digest("hex");
  assert.match(report.stdout, new RegExp(`SHA-256 ${sha}`));
  await t.platform.audit.flush();
  const entries = (await t.platform.audit.list({ after: 0, limit: 10_000 })).items.filter((e) => e.action === "report.generated");
  assert.ok(
    entries.some((e) => e.details.includes(sha) && e.details.includes('"vertical":"industrial"')),
    "the file's hash is in the audit log",
  );
});
