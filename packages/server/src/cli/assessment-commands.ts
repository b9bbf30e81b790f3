import type { Command } from "commander";
import { Option } from "commander";
import { createReadStream } from "node:fs";
import { readFile, readdir, stat, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { join, relative } from "node:path";
import yauzl from "yauzl";
import {
  ErrorBody,
  REPORT_SHA256_HEADER,
  type AdvisoryListResponse,
  type CheckRunDto,
  type FindingListResponse,
  type ImportAdvisoriesResponse,
  type ImportIssueDto,
  type ImportSbomResponse,
  type ImportVexResponse,
  type LastCheckRunResponse,
  type SbomDto,
  type ScanResultDto,
} from "@vigil/contract";
import { VigilError } from "../core/index.js";
import { ApiError, callApi, type ApiTarget } from "./client.js";
import { printPairs, printTable } from "./output.js";

/** What the assessment commands need from the CLI's main file. */
export interface AssessmentCliContext {
  api(dataDir?: string): Promise<ApiTarget>;
  json(): boolean;
}

const dataDirOpt = ["--data-dir <dir>", "data directory of a local Vigil (to find its URL and CA)"] as const;

/** A file bigger than this is reported, not read: OSV records are kilobytes. */
const MAX_ADVISORY_FILE_BYTES = 64 * 1024 * 1024;
/** Limits on a ZIP (a zip bomb is refused, not unpacked). */
const MAX_ZIP_ENTRIES = 1_000_000;
const MAX_ZIP_TOTAL_BYTES = 4 * 1024 * 1024 * 1024;
/** Records per request, and bytes per request (the API accepts 64 MiB). */
const BATCH_RECORDS = 5000;
const BATCH_BYTES = 16 * 1024 * 1024;

interface SourceRecord {
  readonly source: string;
  readonly content: string;
}

/** A record the CLI could not send (too large, unreadable), reported like the server's. */
interface LocalRejection {
  readonly source: string;
  readonly issue: ImportIssueDto;
}

function unreadable(what: string, cause: unknown): VigilError {
  return new VigilError("ADVISORY_SOURCE_UNREADABLE", `cannot read ${what}: ${(cause as Error).message}`, {
    cause,
    hint: "Give a directory of OSV JSON files, or a ZIP of them (such as an ecosystem's all.zip).",
  });
}

async function readDirectory(dir: string, out: SourceRecord[], rejected: LocalRejection[]): Promise<void> {
  const walk = async (path: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (error) {
      throw unreadable(path, error);
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && entry.name.toLowerCase().endsWith(".json")) {
        const source = relative(dir, full);
        const size = (await stat(full)).size;
        if (size > MAX_ADVISORY_FILE_BYTES) {
          rejected.push({
            source,
            issue: { level: "error", code: "RECORD_TOO_LARGE", path: "", message: `${size} bytes; not read` },
          });
          continue;
        }
        out.push({ source, content: await readFile(full, "utf8") });
      }
    }
  };
  await walk(dir);
}

/** Reads every *.json entry of a ZIP with yauzl, checking declared and actual sizes. */
function readZip(file: string, out: SourceRecord[], rejected: LocalRejection[]): Promise<void> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false }, (error, zip) => {
      if (error !== null || zip === undefined) {
        reject(unreadable(`${file} as a ZIP`, error ?? new Error("no archive")));
        return;
      }
      let entries = 0;
      let total = 0;
      const fail = (e: VigilError) => {
        zip.close();
        reject(e);
      };
      zip.on("error", (e: Error) => fail(unreadable(file, e)));
      zip.on("end", () => resolve());
      zip.on("entry", (entry: yauzl.Entry) => {
        entries += 1;
        if (entries > MAX_ZIP_ENTRIES) return fail(unreadable(file, new Error(`more than ${MAX_ZIP_ENTRIES} entries`)));
        const name = entry.fileName;
        if (name.endsWith("/") || !name.toLowerCase().endsWith(".json")) return zip.readEntry();
        if (entry.uncompressedSize > MAX_ADVISORY_FILE_BYTES) {
          rejected.push({
            source: name,
            issue: {
              level: "error",
              code: "RECORD_TOO_LARGE",
              path: "",
              message: `${entry.uncompressedSize} bytes uncompressed; not read`,
            },
          });
          return zip.readEntry();
        }
        total += entry.uncompressedSize;
        if (total > MAX_ZIP_TOTAL_BYTES)
          return fail(unreadable(file, new Error(`more than ${MAX_ZIP_TOTAL_BYTES} bytes uncompressed`)));
        zip.openReadStream(entry, (e, stream) => {
          if (e !== null || stream === undefined) {
            rejected.push({
              source: name,
              issue: { level: "error", code: "JSON_MALFORMED", path: "", message: `unreadable entry: ${e?.message ?? "?"}` },
            });
            zip.readEntry();
            return;
          }
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("error", (err: Error) => {
            // A size that lies (validateEntrySizes) or a corrupt stream: this entry only.
            rejected.push({
              source: name,
              issue: { level: "error", code: "JSON_MALFORMED", path: "", message: `unreadable entry: ${err.message}` },
            });
            zip.readEntry();
          });
          stream.on("end", () => {
            out.push({ source: name, content: Buffer.concat(chunks).toString("utf8") });
            zip.readEntry();
          });
        });
        return undefined;
      });
      zip.readEntry();
    });
  });
}

/** Reads advisories from a directory (recursively, *.json) or a ZIP. */
export async function readAdvisorySource(path: string): Promise<{ records: SourceRecord[]; rejected: LocalRejection[] }> {
  const records: SourceRecord[] = [];
  const rejected: LocalRejection[] = [];
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw unreadable(path, error);
  }
  if (info.isDirectory()) await readDirectory(path, records, rejected);
  else if (path.toLowerCase().endsWith(".zip") || (await isZip(path))) await readZip(path, records, rejected);
  else if (path.toLowerCase().endsWith(".json")) {
    if (info.size > MAX_ADVISORY_FILE_BYTES) {
      rejected.push({
        source: path,
        issue: { level: "error", code: "RECORD_TOO_LARGE", path: "", message: `${info.size} bytes; not read` },
      });
    } else records.push({ source: path, content: await readFile(path, "utf8") });
  } else {
    throw unreadable(path, new Error("not a directory, a .zip or a .json file"));
  }
  return { records, rejected };
}

async function isZip(path: string): Promise<boolean> {
  const head = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    createReadStream(path, { start: 0, end: 3 })
      .on("data", (c) => chunks.push(c as Buffer))
      .on("end", () => resolve(Buffer.concat(chunks)))
      .on("error", () => resolve(Buffer.alloc(0)));
  });
  return head.length === 4 && head.readUInt32LE(0) === 0x04034b50;
}

/** GET that returns the raw body (reports are PDF/HTML), pinning the server's CA like callApi. */
async function download(
  target: ApiTarget,
  path: string,
): Promise<{ body: Buffer; headers: Record<string, string | string[] | undefined> }> {
  const url = new URL(path, target.url);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const { status, body, headers } = await new Promise<{
    status: number;
    body: Buffer;
    headers: Record<string, string | string[] | undefined>;
  }>((resolve, reject) => {
    const req = send(
      url,
      {
        method: "GET",
        headers: { ...(target.token ? { authorization: `Bearer ${target.token}` } : {}) },
        ...(url.protocol === "https:"
          ? { ca: target.ca, servername: isIP(url.hostname.replace(/^\[|\]$/g, "")) === 0 ? url.hostname : "" }
          : {}),
        timeout: 120_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out after 120 s")));
    req.on("error", (error) =>
      reject(
        new VigilError(
          "CLI_SERVER_UNREACHABLE",
          `cannot reach Vigil at ${target.url}: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
          {
            cause: error,
            hint: "Is `vigil up` running? For a remote server, check --server and --ca-file.",
          },
        ),
      ),
    );
    req.end();
  });
  if (status >= 400) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      parsed = undefined;
    }
    const error = ErrorBody.safeParse(parsed);
    throw new ApiError(status, error.success ? error.data.error : { code: "INTERNAL", message: `HTTP ${status}` });
  }
  return { body, headers };
}

function issueLines(issues: readonly ImportIssueDto[], limit = 20): string[] {
  const lines = issues.slice(0, limit).map((i) => `  ${i.level.toUpperCase()} ${i.code} ${i.path || "(record)"}: ${i.message}`);
  if (issues.length > limit) lines.push(`  ... ${issues.length - limit} more`);
  return lines;
}

function scanLine(s: ScanResultDto): string {
  return `Scan: ${s.devicesWithSbom}/${s.devices} live device(s) with an SBOM, ${s.openFindings} open finding(s) (${s.newFindings} new, ${s.resolvedFindings} resolved, ${s.suppressedByVex} suppressed by VEX)${s.problems.length > 0 ? `, ${s.problems.length} version problem(s)` : ""}.`;
}

function checkTable(run: CheckRunDto): string {
  return printTable(
    run.results.map((r) => ({ ...r, status: r.status.toUpperCase(), affected: r.affectedCount })),
    ["id", "status", "severity", "affected", "summary"],
  );
}

export function registerAssessmentCommands(program: Command, ctx: AssessmentCliContext): void {
  const out = (value: unknown, human: () => string) =>
    process.stdout.write(`${ctx.json() ? JSON.stringify(value, null, 2) : human()}\n`);

  // ---- SBOMs ----
  const sbom = program.command("sbom").description("Software bills of materials (CycloneDX 1.5/1.6 JSON) per firmware version.");
  sbom
    .command("import <file>")
    .description(
      "Import a CycloneDX SBOM for a firmware version; devices declaring that firmware (or its serialNumber as sbomRef) are matched.",
    )
    .option("--profile <id>", "device profile the firmware belongs to (default: any profile)")
    .option("--firmware <version>", "firmware version (default: the SBOM's metadata.component.version)")
    .option(...dataDirOpt)
    .action(async (file: string, o: { profile?: string; firmware?: string; dataDir?: string }) => {
      let document: string;
      try {
        document = await readFile(file, "utf8");
      } catch (error) {
        throw new VigilError(
          "SBOM_INVALID",
          `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
          {
            cause: error,
            hint: "Give the path of a CycloneDX JSON file.",
          },
        );
      }
      const { data } = await callApi<ImportSbomResponse>(await ctx.api(o.dataDir), "POST", "/api/v1/sboms", {
        document,
        ...(o.profile ? { profile: o.profile } : {}),
        ...(o.firmware ? { firmwareVersion: o.firmware } : {}),
      });
      out(data, () =>
        [
          `${data.replaced ? "Replaced" : "Imported"} SBOM ${data.sbom.id}: ${data.sbom.profile ?? "(any profile)"} firmware ${data.sbom.firmwareVersion}, ${data.sbom.componentCount} component(s), CycloneDX ${data.sbom.specVersion}${data.vexStatements > 0 ? `, ${data.vexStatements} VEX statement(s)` : ""}.`,
          ...(data.issues.length > 0 ? [`${data.issues.length} issue(s):`, ...issueLines(data.issues)] : []),
          scanLine(data.scan),
        ].join("\n"),
      );
    });
  sbom
    .command("list")
    .description("List the SBOMs held.")
    .option(...dataDirOpt)
    .action(async (o: { dataDir?: string }) => {
      const { data } = await callApi<{ items: SbomDto[] }>(await ctx.api(o.dataDir), "GET", "/api/v1/sboms");
      out(data.items, () =>
        data.items.length === 0
          ? "No SBOMs."
          : printTable(
              data.items.map((s) => ({ ...s, profile: s.profile ?? "(any)", components: s.componentCount })),
              ["profile", "firmwareVersion", "components", "specVersion", "serialNumber", "importedAt"],
            ),
      );
    });

  // ---- advisories ----
  const advisories = program.command("advisories").description("Vulnerability advisories in OSV format, imported offline.");
  advisories
    .command("import <path>")
    .description(
      "Import OSV records from a directory (recursively, *.json) or a ZIP; broken records are reported, the rest imported.",
    )
    .option(...dataDirOpt)
    .action(async (path: string, o: { dataDir?: string }) => {
      const { records, rejected } = await readAdvisorySource(path);
      const t = await ctx.api(o.dataDir);
      const total = { records: rejected.length, imported: 0, rejected: rejected.length, inserted: 0, updated: 0, unchanged: 0 };
      const results: ImportAdvisoriesResponse["results"] = rejected.map((r) => ({
        source: r.source,
        id: null,
        status: "rejected",
        issues: [r.issue],
      }));
      let scan: ScanResultDto | undefined;
      let batch: SourceRecord[] = [];
      let bytes = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const { data } = await callApi<ImportAdvisoriesResponse>(t, "POST", "/api/v1/advisories/import", { records: batch });
        for (const k of ["records", "imported", "rejected", "inserted", "updated", "unchanged"] as const) total[k] += data[k];
        results.push(...data.results);
        scan = data.scan;
        batch = [];
        bytes = 0;
      };
      for (const r of records) {
        const size = Buffer.byteLength(r.content) + r.source.length + 64;
        if (batch.length >= BATCH_RECORDS || (bytes + size > BATCH_BYTES && batch.length > 0)) await flush();
        batch.push(r);
        bytes += size;
      }
      await flush();
      const bad = results.filter((r) => r.status === "rejected" || r.issues.length > 0);
      out({ ...total, results, scan: scan ?? null }, () =>
        [
          `Read ${total.records} record(s) from ${path}: ${total.imported} imported (${total.inserted} new, ${total.updated} updated, ${total.unchanged} unchanged), ${total.rejected} rejected.`,
          ...bad
            .slice(0, 50)
            .flatMap((r) => [
              `${r.status === "rejected" ? "REJECTED" : "imported with warnings"} ${r.source}${r.id ? ` (${r.id})` : ""}:`,
              ...issueLines(r.issues, 5),
            ]),
          ...(bad.length > 50 ? [`... ${bad.length - 50} more record(s) with issues (use --json for all)`] : []),
          ...(scan ? [scanLine(scan)] : []),
        ].join("\n"),
      );
    });
  advisories
    .command("list")
    .description("List advisories held.")
    .option("--limit <n>", "page size", "100")
    .option(...dataDirOpt)
    .action(async (o: { limit: string; dataDir?: string }) => {
      const { data } = await callApi<AdvisoryListResponse>(
        await ctx.api(o.dataDir),
        "GET",
        `/api/v1/advisories?limit=${encodeURIComponent(o.limit)}`,
      );
      out(data, () =>
        data.items.length === 0
          ? "No advisories."
          : `${printTable(
              data.items.map((a) => ({ ...a, packages: a.packages.join(" ") })),
              ["id", "severity", "cvss", "packages", "summary"],
            )}\n(${data.total} in all)`,
      );
    });

  // ---- VEX ----
  program
    .command("vex")
    .description("VEX statements (CycloneDX VEX) that mark vulnerabilities as not affecting a product.")
    .command("import <file>")
    .description("Import a CycloneDX VEX document; not_affected and false_positive suppress the findings they name.")
    .option(...dataDirOpt)
    .action(async (file: string, o: { dataDir?: string }) => {
      const { data } = await callApi<ImportVexResponse>(await ctx.api(o.dataDir), "POST", "/api/v1/vex", {
        document: await readFile(file, "utf8"),
      });
      out(data, () =>
        [`Imported ${data.statements} VEX statement(s).`, ...issueLines(data.issues), scanLine(data.scan)].join("\n"),
      );
    });

  // ---- findings ----
  const vulns = program.command("vulns").description("Vulnerability findings per device.");
  vulns
    .command("scan")
    .description("Match every live device's SBOM against the advisories now.")
    .option(...dataDirOpt)
    .action(async (o: { dataDir?: string }) => {
      const { data } = await callApi<ScanResultDto>(await ctx.api(o.dataDir), "POST", "/api/v1/vulnerabilities/scan");
      out(data, () => scanLine(data));
    });
  vulns
    .command("list")
    .description("List findings (open by default).")
    .option("--device <id>", "only this device")
    .addOption(new Option("--status <status>", "open or resolved").choices(["open", "resolved"]).default("open"))
    .option(...dataDirOpt)
    .action(async (o: { device?: string; status: string; dataDir?: string }) => {
      const query = new URLSearchParams({ status: o.status, ...(o.device ? { device: o.device } : {}) });
      const { data } = await callApi<FindingListResponse>(
        await ctx.api(o.dataDir),
        "GET",
        `/api/v1/vulnerabilities?${query.toString()}`,
      );
      out(data.items, () =>
        data.items.length === 0
          ? "No findings."
          : printTable(data.items, ["device", "advisory", "severity", "cvss", "component", "fixedVersion", "firstSeenAt"]),
      );
    });

  // ---- audit checks ----
  const checks = program.command("audit-checks").description("Configuration audit checks (stable ids, remediation hints).");
  checks
    .command("run")
    .description("Run the audit checks now and print their results.")
    .option("--check <id...>", "only these checks")
    .option(...dataDirOpt)
    .action(async (o: { check?: string[]; dataDir?: string }) => {
      const { data } = await callApi<CheckRunDto>(
        await ctx.api(o.dataDir),
        "POST",
        "/api/v1/audit-checks/run",
        o.check ? { checks: o.check } : {},
      );
      out(data, () => `Audit checks run ${data.id} at ${data.at}:\n${checkTable(data)}`);
      if (data.results.some((r) => r.status === "fail")) process.exitCode = 1;
    });
  checks
    .command("show")
    .description("Show the last run, with evidence and remediation.")
    .option(...dataDirOpt)
    .action(async (o: { dataDir?: string }) => {
      const { data } = await callApi<LastCheckRunResponse>(await ctx.api(o.dataDir), "GET", "/api/v1/audit-checks");
      const run = data.run;
      out(data, () =>
        run === null
          ? "The audit checks have not run yet: `vigil audit-checks run`."
          : [
              `Run ${run.id} (${run.trigger}) at ${run.at}`,
              ...run.results.map((r) =>
                [
                  "",
                  printPairs([
                    ["check", `${r.id} — ${r.title}`],
                    ["status", `${r.status.toUpperCase()} (${r.severity})`],
                    ["finding", r.summary],
                    ["affected", r.affectedCount === 0 ? "-" : r.affected.join(", ")],
                    ["remediation", r.remediation],
                  ]),
                ].join("\n"),
              ),
            ].join("\n"),
      );
    });

  // ---- reports ----
  program
    .command("report")
    .description("Reports from live evidence.")
    .command("compliance")
    .description(
      "The compliance report (NIST CSF 2.0, NIST IR 8259A, ETSI EN 303 645, CIA scorecard); its SHA-256 is recorded in the audit log.",
    )
    .addOption(new Option("--format <format>", "json, html or pdf").choices(["json", "html", "pdf"]).default("json"))
    .addOption(
      new Option("--vertical <id>", "vertical profile for the CIA scorecard").choices([
        "healthcare",
        "automotive",
        "smart-city",
        "industrial",
        "payments",
        "default",
      ]),
    )
    .option("--out <file>", "write the report here (default: standard output)")
    .option(...dataDirOpt)
    .action(async (o: { format: string; vertical?: string; out?: string; dataDir?: string }) => {
      const query = new URLSearchParams({ format: o.format, ...(o.vertical ? { vertical: o.vertical } : {}) });
      const { body, headers } = await download(await ctx.api(o.dataDir), `/api/v1/reports/compliance?${query.toString()}`);
      const sha256 = String(headers[REPORT_SHA256_HEADER] ?? "");
      if (o.out === undefined) {
        process.stdout.write(body);
        return;
      }
      await writeFile(o.out, body);
      out(
        { file: o.out, format: o.format, bytes: body.length, sha256 },
        () => `Wrote ${o.out} (${o.format}, ${body.length} bytes), SHA-256 ${sha256} (recorded in the audit log).`,
      );
    });
}
