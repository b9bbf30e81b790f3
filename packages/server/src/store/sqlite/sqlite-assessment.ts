import type Database from "better-sqlite3";
import type {
  Advisory,
  AssessmentRepository,
  CheckRunRecord,
  FindingRecord,
  FindingStatus,
  SbomRecord,
  SbomSummary,
  VexStatement,
} from "../../assessment/index.js";
import type { DeviceId, Millis } from "../../core/index.js";
import {
  type CheckRunRow,
  toCheckRun,
  type SbomRow,
  type FindingRow,
  type VexRow,
  SUMMARY_COLUMNS,
  toSummary,
  toSbom,
  toFinding,
  sbomParams,
  findingParams,
  toVex,
} from "../rows/assessment-rows.js";

type Db = Database.Database;

/** The assessment module's repository on SQLite (migration 8). */
export class SqliteAssessment implements AssessmentRepository {
  readonly #db: Db;
  readonly #s;

  constructor(db: Db) {
    this.#db = db;
    this.#s = {
      upsertSbom: db.prepare(
        `INSERT INTO sboms (id, profile, firmware_version, spec_version, serial_number, bom_version, subject_name, sha256, components, component_count, imported_at, imported_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (profile, firmware_version) DO UPDATE SET spec_version = excluded.spec_version, serial_number = excluded.serial_number,
           bom_version = excluded.bom_version, subject_name = excluded.subject_name, sha256 = excluded.sha256, components = excluded.components,
           component_count = excluded.component_count, imported_at = excluded.imported_at, imported_by = excluded.imported_by`,
      ),
      sbomById: db.prepare("SELECT * FROM sboms WHERE id = ?"),
      sbomByKey: db.prepare("SELECT * FROM sboms WHERE profile = ? AND firmware_version = ?"),
      sbomBySerial: db.prepare("SELECT * FROM sboms WHERE serial_number = ? ORDER BY imported_at DESC LIMIT 1"),
      listSboms: db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM sboms ORDER BY profile, firmware_version`),
      advisoryModified: db.prepare("SELECT modified FROM advisories WHERE id = ?"),
      upsertAdvisory: db.prepare(
        "INSERT INTO advisories (id, modified, record, imported_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, record = excluded.record, imported_at = excluded.imported_at",
      ),
      deletePackages: db.prepare("DELETE FROM advisory_packages WHERE advisory_id = ?"),
      insertPackage: db.prepare("INSERT OR IGNORE INTO advisory_packages (package_key, advisory_id) VALUES (?, ?)"),
      advisoriesForKey: db.prepare(
        "SELECT a.record FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id WHERE p.package_key = ? ORDER BY a.id",
      ),
      advisoryCount: db.prepare("SELECT COUNT(*) AS n FROM advisories"),
      advisoryPage: db.prepare("SELECT record FROM advisories WHERE id > ? ORDER BY id LIMIT ?"),
      lastImport: db.prepare("SELECT MAX(imported_at) AS at FROM advisories"),
      insertVex: db.prepare(
        `INSERT INTO vex_statements (vulnerability, package_key, version, sbom_serial, state, justification, detail, source, imported_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET state = excluded.state, justification = excluded.justification,
           detail = excluded.detail, source = excluded.source, imported_at = excluded.imported_at`,
      ),
      vexExists: db.prepare(
        "SELECT 1 FROM vex_statements WHERE vulnerability = ? AND package_key = ? AND version = ? AND sbom_serial = ?",
      ),
      listVex: db.prepare("SELECT * FROM vex_statements ORDER BY vulnerability, package_key"),
      findingsAll: db.prepare("SELECT * FROM vulnerability_findings ORDER BY device_id, advisory_id, component"),
      findingsByStatus: db.prepare(
        "SELECT * FROM vulnerability_findings WHERE status = ? ORDER BY device_id, advisory_id, component",
      ),
      findingsByDevice: db.prepare("SELECT * FROM vulnerability_findings WHERE device_id = ? ORDER BY advisory_id, component"),
      findingsByDeviceStatus: db.prepare(
        "SELECT * FROM vulnerability_findings WHERE device_id = ? AND status = ? ORDER BY advisory_id, component",
      ),
      upsertFinding: db.prepare(
        `INSERT INTO vulnerability_findings (device_id, advisory_id, component, component_version, sbom_id, severity, cvss, fixed_version, status, resolution, first_seen_at, last_seen_at, resolved_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (device_id, advisory_id, component) DO UPDATE SET component_version = excluded.component_version, sbom_id = excluded.sbom_id,
           severity = excluded.severity, cvss = excluded.cvss, fixed_version = excluded.fixed_version, status = excluded.status,
           resolution = excluded.resolution, first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at, resolved_at = excluded.resolved_at`,
      ),
      insertRun: db.prepare("INSERT INTO audit_check_runs (id, at, trigger, results) VALUES (?, ?, ?, ?)"),
      pruneRuns: db.prepare(
        "DELETE FROM audit_check_runs WHERE id NOT IN (SELECT id FROM audit_check_runs ORDER BY at DESC, rowid DESC LIMIT ?)",
      ),
      lastRun: db.prepare("SELECT * FROM audit_check_runs ORDER BY at DESC, rowid DESC LIMIT 1"),
    };
  }

  async putSbom(r: SbomRecord): Promise<void> {
    this.#s.upsertSbom.run(...sbomParams(r));
  }

  async getSbom(id: string): Promise<SbomRecord | undefined> {
    const row = this.#s.sbomById.get(id) as SbomRow | undefined;
    return row && toSbom(row);
  }

  async findSbom(query: { profile: string | null; firmwareVersion: string }): Promise<SbomRecord | undefined> {
    const row = this.#s.sbomByKey.get(query.profile ?? "", query.firmwareVersion) as SbomRow | undefined;
    return row && toSbom(row);
  }

  async findSbomBySerial(serialNumber: string): Promise<SbomRecord | undefined> {
    const row = this.#s.sbomBySerial.get(serialNumber) as SbomRow | undefined;
    return row && toSbom(row);
  }

  async listSboms(): Promise<SbomSummary[]> {
    return (this.#s.listSboms.all() as SbomRow[]).map(toSummary);
  }

  async putAdvisories(
    advisories: readonly Advisory[],
    at: Millis,
  ): Promise<{ inserted: number; updated: number; unchanged: number }> {
    const counts = { inserted: 0, updated: 0, unchanged: 0 };
    this.#db.transaction(() => {
      for (const a of advisories) {
        const existing = this.#s.advisoryModified.get(a.id) as { modified: number } | undefined;
        if (existing !== undefined && existing.modified > a.modified) {
          counts.unchanged += 1; // OSV: a record's `modified` only moves forward
          continue;
        }
        if (existing === undefined) counts.inserted += 1;
        else counts.updated += 1;
        this.#s.upsertAdvisory.run(a.id, a.modified, JSON.stringify(a), at);
        this.#s.deletePackages.run(a.id);
        for (const p of a.affected) this.#s.insertPackage.run(p.packageKey, a.id);
      }
    })();
    return counts;
  }

  async advisoriesForPackages(packageKeys: readonly string[]): Promise<Map<string, Advisory[]>> {
    const out = new Map<string, Advisory[]>();
    for (const key of packageKeys) {
      const rows = this.#s.advisoriesForKey.all(key) as { record: string }[];
      if (rows.length > 0)
        out.set(
          key,
          rows.map((r) => JSON.parse(r.record) as Advisory),
        );
    }
    return out;
  }

  async advisoryCount(): Promise<number> {
    return (this.#s.advisoryCount.get() as { n: number }).n;
  }

  async listAdvisories(query: { limit: number; after?: string | undefined }): Promise<Advisory[]> {
    return (this.#s.advisoryPage.all(query.after ?? "", query.limit) as { record: string }[]).map(
      (r) => JSON.parse(r.record) as Advisory,
    );
  }

  async lastAdvisoryImportAt(): Promise<Millis | null> {
    return (this.#s.lastImport.get() as { at: number | null }).at as Millis | null;
  }

  async putVex(statements: readonly VexStatement[], source: string, at: Millis): Promise<number> {
    let added = 0;
    this.#db.transaction(() => {
      for (const s of statements) {
        const key = [s.vulnerability, s.packageKey, s.version ?? "", s.sbomSerial ?? ""] as const;
        if (this.#s.vexExists.get(...key) === undefined) added += 1;
        this.#s.insertVex.run(...key, s.state, s.justification, s.detail, source, at);
      }
    })();
    return added;
  }

  async listVex(): Promise<VexStatement[]> {
    return (this.#s.listVex.all() as VexRow[]).map(toVex);
  }

  async listFindings(query: { deviceId?: DeviceId | undefined; status?: FindingStatus | undefined }): Promise<FindingRecord[]> {
    let rows: FindingRow[];
    if (query.deviceId !== undefined && query.status !== undefined) {
      rows = this.#s.findingsByDeviceStatus.all(query.deviceId, query.status) as FindingRow[];
    } else if (query.deviceId !== undefined) {
      rows = this.#s.findingsByDevice.all(query.deviceId) as FindingRow[];
    } else if (query.status !== undefined) {
      rows = this.#s.findingsByStatus.all(query.status) as FindingRow[];
    } else {
      rows = this.#s.findingsAll.all() as FindingRow[];
    }
    return rows.map(toFinding);
  }

  async saveFindings(findings: readonly FindingRecord[]): Promise<void> {
    this.#db.transaction(() => {
      for (const f of findings) {
        this.#s.upsertFinding.run(...findingParams(f));
      }
    })();
  }

  async saveCheckRun(run: CheckRunRecord, keep: number): Promise<void> {
    this.#db.transaction(() => {
      this.#s.insertRun.run(run.id, run.at, run.trigger, JSON.stringify(run.results));
      this.#s.pruneRuns.run(keep);
    })();
  }

  async lastCheckRun(): Promise<CheckRunRecord | undefined> {
    const row = this.#s.lastRun.get() as CheckRunRow | undefined;
    return row === undefined ? undefined : toCheckRun(row);
  }
}
