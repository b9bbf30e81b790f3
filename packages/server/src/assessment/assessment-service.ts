import { createHash, randomUUID } from "node:crypto";
import { VigilError, type Clock, type DeviceId, type Logger, type Service } from "../core/index.js";
import type { AuditReader } from "../audit/index.js";
import type { CertificateRecord, CertificateRepository, DeviceRecord, DeviceRepository } from "../identity/index.js";
import type { Profile } from "../policy/index.js";
import type { SignalBus } from "../signals/index.js";
import { VERTICALS, isVerticalId, verticalOfProfile, type VerticalId } from "../trust/index.js";
import { matchSbom, type ComponentMatch } from "./advisory-matching.js";
import type { AssessmentConfig } from "./assessment-config.js";
import { AUDIT_CHECK_IDS, runAuditChecks, type CheckResult } from "./audit-checks.js";
import { buildComplianceReport, type ComplianceReport, type ReportFormat } from "./compliance-report.js";
import { SEVERITY_ORDER, type Severity } from "./cvss.js";
import { parseCycloneDx, parseCycloneDxVex, type SbomComponent, type VexStatement } from "./cyclonedx.js";
import type { CaCertificateView, EnrollmentTokenView, FleetSnapshot, LiveSessions, RecordedSignal } from "./fleet-snapshot.js";
import type { ImportIssue } from "./import-issues.js";
import { parseOsv, type Advisory } from "./osv.js";
import type { AssessmentRepository, CheckRunRecord, FindingRecord, SbomRecord, SbomSummary } from "./ports.js";
import { renderHtml } from "./report-html.js";
import { renderPdf } from "./report-pdf.js";

export interface AssessmentDeps {
  readonly repository: AssessmentRepository;
  readonly devices: Pick<DeviceRepository, "list">;
  readonly certificates: Pick<CertificateRepository, "latestForDevices" | "get">;
  /** Enrollment's claim tokens (structurally: its token repository). */
  readonly tokens: { list(options: { includeUsed: boolean }): Promise<readonly EnrollmentTokenView[]> };
  readonly audit: Pick<AuditReader, "last" | "range">;
  readonly auditEnabled: boolean;
  readonly ca: () => readonly CaCertificateView[];
  readonly profiles: () => ReadonlyMap<string, Profile>;
  /** The gateway's live sessions; absent when the gateway is disabled. */
  readonly sessions: LiveSessions | undefined;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: AssessmentConfig;
  readonly deviceCertValidityDays: number;
  readonly mqttEnabled: boolean;
  readonly version: string;
  /** The deployment's vertical (trust.vertical), when it sets one. */
  readonly vertical?: () => VerticalId | undefined;
  /**
   * Runs the scheduled scan + checks on one node of a cluster at a time (a PostgreSQL
   * advisory lock or a Redis lock); absent: always runs (one node).
   */
  readonly jobLock?: { run<T>(name: string, job: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> };
}

export interface SbomImportResult {
  readonly sbom: SbomSummary;
  readonly replaced: boolean;
  readonly vexStatements: number;
  readonly issues: ImportIssue[];
  readonly scan: ScanResult;
}

export interface AdvisoryRecordResult {
  /** Where the record came from: a file name, a ZIP entry, `name#index` for arrays. */
  readonly source: string;
  readonly id: string | null;
  readonly status: "imported" | "rejected";
  readonly issues: ImportIssue[];
}

export interface AdvisoryImportResult {
  readonly records: number;
  readonly imported: number;
  readonly rejected: number;
  readonly inserted: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly results: AdvisoryRecordResult[];
  readonly scan: ScanResult;
}

export interface ScanResult {
  readonly at: string;
  readonly devices: number;
  readonly devicesWithSbom: number;
  readonly openFindings: number;
  readonly newFindings: number;
  readonly resolvedFindings: number;
  readonly suppressedByVex: number;
  /** Versions that could not be placed in an advisory's ranges (reported, never "not affected"). */
  readonly problems: {
    readonly device: string;
    readonly component: string;
    readonly advisory: string;
    readonly message: string;
  }[];
}

export interface CheckRunResult {
  readonly id: string;
  readonly at: string;
  readonly trigger: CheckRunRecord["trigger"];
  readonly results: CheckResult[];
}

export interface RenderedReport {
  readonly format: ReportFormat;
  readonly contentType: string;
  readonly body: Buffer;
  readonly sha256: string;
  readonly generatedAt: string;
  readonly report: ComplianceReport;
}

const AUDIT_TAIL = 10_000;
const SIGNALS_OF_INTEREST = new Set(["identity.cloned_suspected", "gateway.connect_refused"]);
const MAX_PROBLEMS = 200;

/** `vulnerability.found` carries low..critical: an advisory without a rating counts as medium. */
function signalSeverity(s: Severity): "low" | "medium" | "high" | "critical" {
  if (s === "unknown") return "medium";
  if (s === "none") return "low";
  return s;
}

/**
 * Vulnerability assessment and audit evidence, computed from the live fleet: SBOMs per
 * firmware, offline advisories (OSV), VEX, findings per device (device -> firmware -> SBOM
 * -> components -> advisories), scheduled audit checks, the compliance mapping and reports.
 */
/** How long after an `ota.installed` the findings are rescanned (a wave's reports coalesce). */
const RESCAN_AFTER_INSTALL_MS = 500;

export class AssessmentService implements Service {
  readonly name = "assessment";
  readonly #d: AssessmentDeps;
  #timer: NodeJS.Timeout | undefined;
  #rescan: NodeJS.Timeout | undefined;
  #offInstalled: (() => void) | undefined;
  #running: Promise<unknown> = Promise.resolve();

  constructor(deps: AssessmentDeps) {
    this.#d = deps;
  }

  async start(): Promise<void> {
    // A verified firmware installation changes what a device runs: rescan soon (once for a
    // whole wave), so the vulnerabilities the update fixes are resolved and trust recovers.
    this.#offInstalled = this.#d.bus.on("ota.installed", () => {
      if (this.#rescan !== undefined) return;
      this.#rescan = setTimeout(() => {
        this.#rescan = undefined;
        this.scan().catch((error: unknown) => this.#d.log.error({ err: error }, "rescan after a firmware update failed"));
      }, RESCAN_AFTER_INSTALL_MS);
      this.#rescan.unref();
    });
    const every = this.#d.config.checkIntervalSeconds;
    if (every === 0) return;
    this.#timer = setInterval(() => {
      const scheduled = () =>
        this.#exclusive(async () => {
          await this.#scanNow();
          await this.#checksNow("scheduled");
        });
      (this.#d.jobLock === undefined ? scheduled() : this.#d.jobLock.run("assessment.scheduled", scheduled)).catch(
        (error: unknown) => this.#d.log.error({ err: error }, "scheduled assessment failed"),
      );
    }, every * 1000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#offInstalled?.();
    if (this.#rescan !== undefined) clearTimeout(this.#rescan);
    this.#rescan = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running.catch(() => undefined);
  }

  /** One job at a time: scans and check runs read and write the same findings. */
  #exclusive<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#running.catch(() => undefined).then(job);
    this.#running = run;
    return run;
  }

  // ---- SBOMs ----

  async importSbom(input: {
    document: unknown;
    profile: string | null;
    firmwareVersion: string | null;
    by: string;
  }): Promise<SbomImportResult> {
    const text = typeof input.document === "string" ? input.document : JSON.stringify(input.document);
    const parsed = parseCycloneDx(text, {
      maxBytes: this.#d.config.maxSbomBytes,
      maxComponents: this.#d.config.maxSbomComponents,
    });
    if (!parsed.ok) {
      throw new VigilError(
        "SBOM_INVALID",
        `the SBOM was not imported: ${parsed.issues.map((i) => `${i.path || "(document)"}: ${i.message}`).join("; ")}`,
        {
          hint: 'Give a CycloneDX 1.5 or 1.6 JSON BOM (bomFormat "CycloneDX"), e.g. from `syft -o cyclonedx-json` or `cdxgen`.',
          details: { issues: parsed.issues },
        },
      );
    }
    const sbom = parsed.sbom;
    const firmwareVersion = input.firmwareVersion ?? sbom.subject?.version ?? null;
    if (firmwareVersion === null || firmwareVersion.trim() === "") {
      throw new VigilError("SBOM_INVALID", "the SBOM names no firmware version (metadata.component.version) and none was given", {
        hint: "Pass --firmware VERSION (API: firmwareVersion).",
      });
    }
    if (input.profile !== null && !this.#d.profiles().has(input.profile)) {
      throw new VigilError("PROFILE_UNKNOWN", `no device profile ${JSON.stringify(input.profile.slice(0, 64))}`, {
        hint: "List profiles in docs/ or give the profile devices declare.",
      });
    }
    const previous = await this.#d.repository.findSbom({ profile: input.profile, firmwareVersion });
    const record: SbomRecord = {
      id: previous?.id ?? randomUUID(),
      profile: input.profile,
      firmwareVersion,
      specVersion: sbom.specVersion,
      serialNumber: sbom.serialNumber,
      bomVersion: sbom.bomVersion,
      subjectName: sbom.subject?.name ?? null,
      sha256: createHash("sha256").update(text).digest("hex"),
      components: sbom.components,
      importedAt: this.#d.clock.now(),
      importedBy: input.by,
    };
    await this.#d.repository.putSbom(record);
    if (sbom.vex.length > 0) await this.#d.repository.putVex(sbom.vex, `sbom:${record.id}`, record.importedAt);
    this.#d.bus.emit("sbom.imported", {
      id: record.id,
      profile: record.profile,
      firmwareVersion,
      components: record.components.length,
      issues: parsed.issues.length,
      by: input.by,
    });
    const { components, ...rest } = record;
    const scan = await this.scan();
    return {
      sbom: { ...rest, componentCount: components.length },
      replaced: previous !== undefined,
      vexStatements: sbom.vex.length,
      issues: parsed.issues,
      scan,
    };
  }

  listSboms(): Promise<SbomSummary[]> {
    return this.#d.repository.listSboms();
  }

  // ---- advisories ----

  /**
   * Imports OSV records. Each entry is one file's text: a record, or an array of records.
   * Every record is validated on its own; a broken one is reported and the rest go in.
   */
  async importAdvisories(input: {
    records: readonly { source: string; content: string }[];
    by: string;
  }): Promise<AdvisoryImportResult> {
    const results: AdvisoryRecordResult[] = [];
    const good: Advisory[] = [];
    const limits = { maxRecordBytes: this.#d.config.maxAdvisoryRecordBytes };
    const take = (source: string, value: unknown) => {
      const r = parseOsv(value, limits);
      if (r.ok) good.push(r.advisory);
      results.push({ source, id: r.ok ? r.advisory.id : r.id, status: r.ok ? "imported" : "rejected", issues: r.issues });
    };
    for (const entry of input.records) {
      const trimmed = entry.content.trimStart();
      if (trimmed.startsWith("[") && Buffer.byteLength(entry.content) <= limits.maxRecordBytes * 100) {
        let list: unknown;
        try {
          list = JSON.parse(entry.content);
        } catch {
          take(entry.source, entry.content); // reported as JSON_MALFORMED
          continue;
        }
        (list as unknown[]).forEach((item, i) => take(`${entry.source}#${i}`, item));
      } else {
        take(entry.source, entry.content);
      }
    }
    const counts =
      good.length > 0
        ? await this.#d.repository.putAdvisories(good, this.#d.clock.now())
        : { inserted: 0, updated: 0, unchanged: 0 };
    const rejected = results.filter((r) => r.status === "rejected").length;
    this.#d.bus.emit("advisories.imported", {
      records: results.length,
      imported: good.length,
      rejected,
      ...counts,
      by: input.by,
    });
    const scan = await this.scan();
    return { records: results.length, imported: good.length, rejected, ...counts, results, scan };
  }

  advisoryCount(): Promise<number> {
    return this.#d.repository.advisoryCount();
  }

  listAdvisories(query: { limit: number; after?: string | undefined }): Promise<Advisory[]> {
    return this.#d.repository.listAdvisories(query);
  }

  // ---- VEX ----

  async importVex(input: {
    document: unknown;
    by: string;
  }): Promise<{ statements: number; issues: ImportIssue[]; scan: ScanResult }> {
    const text = typeof input.document === "string" ? input.document : JSON.stringify(input.document);
    const sboms = await this.#d.repository.listSboms();
    const bySerial = new Map<string, readonly SbomComponent[]>();
    for (const s of sboms) {
      if (s.serialNumber === null) continue;
      const full = await this.#d.repository.getSbom(s.id);
      if (full !== undefined) bySerial.set(s.serialNumber, full.components);
    }
    const parsed = parseCycloneDxVex(text, (serial, bomRef) => bySerial.get(serial)?.find((c) => c.bomRef === bomRef), {
      maxBytes: this.#d.config.maxSbomBytes,
      maxComponents: this.#d.config.maxSbomComponents,
    });
    if (!parsed.ok) {
      throw new VigilError(
        "VEX_INVALID",
        `the VEX document was not imported: ${parsed.issues.map((i) => `${i.path || "(document)"}: ${i.message}`).join("; ")}`,
        {
          hint: "Give a CycloneDX 1.5/1.6 JSON document with a vulnerabilities array (analysis.state not_affected).",
          details: { issues: parsed.issues },
        },
      );
    }
    const added = await this.#d.repository.putVex(parsed.statements, "vex", this.#d.clock.now());
    this.#d.bus.emit("vex.imported", { statements: parsed.statements.length, added, by: input.by });
    const scan = await this.scan();
    return { statements: parsed.statements.length, issues: parsed.issues, scan };
  }

  listVex(): Promise<VexStatement[]> {
    return this.#d.repository.listVex();
  }

  // ---- findings ----

  listFindings(query: {
    deviceId?: DeviceId | undefined;
    status?: FindingRecord["status"] | undefined;
  }): Promise<FindingRecord[]> {
    return this.#d.repository.listFindings(query);
  }

  /** Matches every live device's SBOM against the advisories and updates the findings. */
  scan(): Promise<ScanResult> {
    return this.#exclusive(() => this.#scanNow());
  }

  async #scanNow(): Promise<ScanResult> {
    const now = this.#d.clock.now();
    const repo = this.#d.repository;
    const devices = (await this.#allDevices()).filter((d) => d.state === "active" || d.state === "quarantined");
    const sbomCache = new Map<string, SbomRecord | undefined>();
    const sbomOf = async (d: DeviceRecord): Promise<SbomRecord | undefined> => {
      const key = `${d.sbomRef ?? ""}\u0000${d.profile ?? ""}\u0000${d.firmwareVersion ?? ""}`;
      if (sbomCache.has(key)) return sbomCache.get(key);
      let found: SbomRecord | undefined;
      if (d.sbomRef !== null) found = (await repo.findSbomBySerial(d.sbomRef.toLowerCase())) ?? (await repo.getSbom(d.sbomRef));
      if (found === undefined && d.firmwareVersion !== null) {
        found =
          (d.profile === null ? undefined : await repo.findSbom({ profile: d.profile, firmwareVersion: d.firmwareVersion })) ??
          (await repo.findSbom({ profile: null, firmwareVersion: d.firmwareVersion }));
      }
      sbomCache.set(key, found);
      return found;
    };
    const deviceSbom = new Map<DeviceId, SbomRecord>();
    for (const d of devices) {
      const s = await sbomOf(d);
      if (s !== undefined) deviceSbom.set(d.id, s);
    }
    const keys = new Set<string>();
    for (const s of deviceSbom.values()) for (const c of s.components) if (c.packageKey !== null) keys.add(c.packageKey);
    const advisories = await repo.advisoriesForPackages([...keys]);
    const vex = await repo.listVex();
    const perSbom = new Map<string, ReturnType<typeof matchSbom>>();
    for (const s of deviceSbom.values()) {
      if (perSbom.has(s.id)) continue;
      perSbom.set(
        s.id,
        matchSbom({ components: s.components, sbomSerial: s.serialNumber, advisoriesFor: (k) => advisories.get(k) ?? [], vex }),
      );
    }

    const keyOf = (device: string, advisory: string, component: string) => `${device}\u0000${advisory}\u0000${component}`;
    const componentId = (m: ComponentMatch) =>
      m.component.purl ?? `pkg:${m.component.packageKey ?? m.component.name}@${m.component.version ?? ""}`;
    const existing = new Map((await repo.listFindings({})).map((f) => [keyOf(f.deviceId, f.advisoryId, f.component), f]));
    const seen = new Set<string>();
    const suppressedKeys = new Set<string>();
    const changed: FindingRecord[] = [];
    const problems: ScanResult["problems"] = [];
    let newFindings = 0;
    let suppressedByVex = 0;
    for (const [deviceId, sbom] of deviceSbom) {
      const result = perSbom.get(sbom.id);
      if (result === undefined) continue;
      for (const p of result.problems) {
        if (problems.length < MAX_PROBLEMS)
          problems.push({
            device: deviceId,
            component: p.component.purl ?? p.component.name,
            advisory: p.advisory,
            message: p.message,
          });
      }
      for (const { match } of result.suppressed) {
        suppressedKeys.add(keyOf(deviceId, match.advisory.id, componentId(match)));
        suppressedByVex += 1;
      }
      for (const m of result.matches) {
        const key = keyOf(deviceId, m.advisory.id, componentId(m));
        seen.add(key);
        const before = existing.get(key);
        const reopened = before === undefined || before.status !== "open";
        if (reopened) newFindings += 1;
        changed.push({
          deviceId,
          advisoryId: m.advisory.id,
          component: componentId(m),
          componentVersion: m.component.version ?? "",
          sbomId: sbom.id,
          severity: m.severity,
          cvss: m.cvss,
          fixedVersion: m.fixedVersion,
          status: "open",
          resolution: null,
          firstSeenAt: reopened ? now : before.firstSeenAt,
          lastSeenAt: now,
          resolvedAt: null,
        });
      }
    }
    const liveIds = new Set<string>(devices.map((d) => d.id));
    let resolvedFindings = 0;
    for (const [key, f] of existing) {
      if (f.status !== "open" || seen.has(key)) continue;
      resolvedFindings += 1;
      changed.push({
        ...f,
        status: "resolved",
        resolution: suppressedKeys.has(key) ? "vex" : liveIds.has(f.deviceId) ? "no-longer-affected" : "device-removed",
        resolvedAt: now,
      });
    }
    await repo.saveFindings(changed);

    // Signals per (device, advisory): trust counts advisories, not components.
    const pairs = (list: Iterable<FindingRecord>) => {
      const out = new Map<string, FindingRecord[]>();
      for (const f of list)
        if (f.status === "open")
          out.set(`${f.deviceId}\u0000${f.advisoryId}`, [...(out.get(`${f.deviceId}\u0000${f.advisoryId}`) ?? []), f]);
      return out;
    };
    const before = pairs(existing.values());
    const afterMap = new Map(existing);
    for (const f of changed) afterMap.set(keyOf(f.deviceId, f.advisoryId, f.component), f);
    const after = pairs(afterMap.values());
    const firmware = new Map(devices.map((d) => [d.id as string, d.firmwareVersion]));
    for (const [pair, list] of after) {
      if (before.has(pair)) continue;
      const worst = list.reduce((w, f) => (SEVERITY_ORDER.indexOf(f.severity) < SEVERITY_ORDER.indexOf(w.severity) ? f : w));
      this.#d.bus.emit("vulnerability.found", {
        device: worst.deviceId,
        advisoryId: worst.advisoryId,
        severity: signalSeverity(worst.severity),
        cvss: list.reduce<number | null>((m, f) => (f.cvss !== null && (m === null || f.cvss > m) ? f.cvss : m), null),
      });
    }
    for (const [pair, list] of before) {
      if (after.has(pair)) continue;
      const f = list[0] as FindingRecord;
      this.#d.bus.emit("vulnerability.resolved", {
        device: f.deviceId,
        advisoryId: f.advisoryId,
        firmwareVersion: firmware.get(f.deviceId) ?? null,
      });
    }
    const openFindings = [...afterMap.values()].filter((f) => f.status === "open").length;
    return {
      at: new Date(now).toISOString(),
      devices: devices.length,
      devicesWithSbom: deviceSbom.size,
      openFindings,
      newFindings,
      resolvedFindings,
      suppressedByVex,
      problems,
    };
  }

  // ---- audit checks ----

  /** Runs the audit checks now (all, or those named); unknown ids are refused. */
  runChecks(trigger: CheckRunRecord["trigger"] = "on-demand", only?: readonly string[]): Promise<CheckRunResult> {
    const unknown = (only ?? []).filter((id) => !AUDIT_CHECK_IDS.includes(id));
    if (unknown.length > 0) {
      return Promise.reject(
        new VigilError("AUDIT_CHECK_UNKNOWN", `no audit check ${unknown.map((u) => JSON.stringify(u.slice(0, 64))).join(", ")}`, {
          hint: `Known checks: ${AUDIT_CHECK_IDS.join(", ")}.`,
        }),
      );
    }
    return this.#exclusive(() => this.#checksNow(trigger, only));
  }

  async #checksNow(trigger: CheckRunRecord["trigger"], only?: readonly string[]): Promise<CheckRunResult> {
    const snapshot = await this.snapshot();
    const results = runAuditChecks(snapshot, only);
    const run: CheckRunRecord = { id: randomUUID(), at: snapshot.now, trigger, results };
    await this.#d.repository.saveCheckRun(run, 100);
    this.#d.bus.emit("assessment.checks_completed", {
      runId: run.id,
      trigger,
      failed: results.filter((r) => r.status === "fail").map((r) => r.id),
      warnings: results.filter((r) => r.status === "warning").map((r) => r.id),
    });
    return { id: run.id, at: new Date(run.at).toISOString(), trigger, results };
  }

  async lastCheckRun(): Promise<CheckRunResult | undefined> {
    const run = await this.#d.repository.lastCheckRun();
    if (run === undefined) return undefined;
    return { id: run.id, at: new Date(run.at).toISOString(), trigger: run.trigger, results: run.results as CheckResult[] };
  }

  // ---- compliance and reports ----

  /** The vertical a report uses: asked for, else the deployment's, else the fleet's most common, else default. */
  async #vertical(asked: string | undefined, devices: readonly DeviceRecord[]): Promise<VerticalId> {
    if (asked !== undefined) {
      if (!isVerticalId(asked)) {
        throw new VigilError("REQUEST_INVALID", `no vertical profile ${JSON.stringify(asked.slice(0, 32))}`, {
          hint: `Use one of ${Object.keys(VERTICALS).join(", ")}.`,
        });
      }
      return asked;
    }
    const configured = this.#d.vertical?.();
    if (configured !== undefined) return configured;
    const profiles = this.#d.profiles();
    const votes = new Map<VerticalId, number>();
    for (const d of devices) {
      const p = d.profile === null ? undefined : profiles.get(d.profile);
      if (p === undefined || d.state === "revoked") continue;
      const v = verticalOfProfile(p.vertical).id;
      votes.set(v, (votes.get(v) ?? 0) + 1);
    }
    return [...votes.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? "default";
  }

  async complianceReport(input: { vertical?: string | undefined; by: string }): Promise<ComplianceReport> {
    return this.#exclusive(async () => {
      await this.#scanNow();
      const snapshot = await this.snapshot();
      const checks = runAuditChecks(snapshot);
      await this.#d.repository.saveCheckRun({ id: randomUUID(), at: snapshot.now, trigger: "report", results: checks }, 100);
      return buildComplianceReport({
        snapshot,
        checks,
        vertical: await this.#vertical(input.vertical, snapshot.devices),
        generatedBy: input.by,
        platformVersion: this.#d.version,
      });
    });
  }

  /** Builds and renders the report; its SHA-256 is recorded in the audit log (`report.generated`). */
  async renderReport(input: { format: ReportFormat; vertical?: string | undefined; by: string }): Promise<RenderedReport> {
    const report = await this.complianceReport(input);
    let body: Buffer;
    let contentType: string;
    switch (input.format) {
      case "json":
        body = Buffer.from(`${JSON.stringify(report, null, 2)}\n`);
        contentType = "application/json; charset=utf-8";
        break;
      case "html":
        body = Buffer.from(renderHtml(report));
        contentType = "text/html; charset=utf-8";
        break;
      case "pdf":
        body = await renderPdf(report);
        contentType = "application/pdf";
        break;
    }
    const sha256 = createHash("sha256").update(body).digest("hex");
    this.#d.bus.emit("report.generated", {
      report: "compliance",
      format: input.format,
      sha256,
      bytes: body.length,
      generatedAt: report.generatedAt,
      vertical: report.scorecard.vertical,
      by: input.by,
    });
    return { format: input.format, contentType, body, sha256, generatedAt: report.generatedAt, report };
  }

  // ---- the snapshot every check reads ----

  async snapshot(): Promise<FleetSnapshot> {
    const repo = this.#d.repository;
    const devices = await this.#allDevices();
    const certificates = await this.#d.certificates.latestForDevices(devices.map((d) => d.id));
    const sessions = this.#d.sessions?.sessions() ?? null;
    const sessionCertificates = new Map<string, CertificateRecord>();
    for (const s of sessions ?? []) {
      const c = await this.#d.certificates.get(s.serial);
      if (c !== undefined) sessionCertificates.set(s.serial, c);
    }
    return {
      now: this.#d.clock.now(),
      devices,
      certificates,
      ca: this.#d.ca(),
      profiles: this.#d.profiles(),
      tokens: await this.#d.tokens.list({ includeUsed: true }),
      sessions,
      sessionCertificates,
      auditEnabled: this.#d.auditEnabled,
      sboms: await repo.listSboms(),
      openFindings: await repo.listFindings({ status: "open" }),
      advisoryCount: await repo.advisoryCount(),
      lastAdvisoryImportAt: await repo.lastAdvisoryImportAt(),
      recentSignals: await this.#recentSignals(),
      settings: {
        caExpiryWarningDays: this.#d.config.caExpiryWarningDays,
        certExpiryWarningDays: this.#d.config.certExpiryWarningDays,
        deviceCertValidityDays: this.#d.deviceCertValidityDays,
        tokenMaxTtlHours: this.#d.config.tokenMaxTtlHours,
        tokenUnusedDays: this.#d.config.tokenUnusedDays,
        mqttEnabled: this.#d.mqttEnabled,
      },
    };
  }

  async #allDevices(): Promise<DeviceRecord[]> {
    const out: DeviceRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.#d.devices.list({ limit: 1000, after });
      out.push(...page.items);
      if (page.next === null) return out;
      after = page.next;
    }
  }

  async #recentSignals(): Promise<RecordedSignal[]> {
    if (!this.#d.auditEnabled) return [];
    const head = (await this.#d.audit.last())?.seq ?? 0;
    const out: RecordedSignal[] = [];
    for (let from = Math.max(1, head - AUDIT_TAIL + 1); from <= head; from += 1000) {
      for (const e of await this.#d.audit.range(from, 1000)) {
        if (!SIGNALS_OF_INTEREST.has(e.action)) continue;
        let details: Record<string, unknown> = {};
        try {
          details = JSON.parse(e.details) as Record<string, unknown>;
        } catch {
          // A tampered entry: `vigil audit verify` reports it; here it just has no details.
        }
        out.push({ at: e.at, action: e.action, target: e.target, details });
      }
    }
    return out;
  }
}
