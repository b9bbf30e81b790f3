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
import type { Db } from "./postgres-db.js";
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

/** The assessment module's repository (SBOMs, advisories, VEX, findings, audit-check runs). */
export class PostgresAssessment implements AssessmentRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async putSbom(r: SbomRecord): Promise<void> {
    await this.#db.query(
      `INSERT INTO sboms (id, profile, firmware_version, spec_version, serial_number, bom_version, subject_name, sha256, components, component_count, imported_at, imported_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (profile, firmware_version) DO UPDATE SET spec_version = excluded.spec_version, serial_number = excluded.serial_number,
         bom_version = excluded.bom_version, subject_name = excluded.subject_name, sha256 = excluded.sha256, components = excluded.components,
         component_count = excluded.component_count, imported_at = excluded.imported_at, imported_by = excluded.imported_by`,
      sbomParams(r),
    );
  }

  async getSbom(id: string): Promise<SbomRecord | undefined> {
    const { rows } = await this.#db.query<SbomRow>("SELECT * FROM sboms WHERE id = $1", [id]);
    return rows[0] && toSbom(rows[0]);
  }

  async findSbom(query: { profile: string | null; firmwareVersion: string }): Promise<SbomRecord | undefined> {
    const { rows } = await this.#db.query<SbomRow>("SELECT * FROM sboms WHERE profile = $1 AND firmware_version = $2", [
      query.profile ?? "",
      query.firmwareVersion,
    ]);
    return rows[0] && toSbom(rows[0]);
  }

  async findSbomBySerial(serialNumber: string): Promise<SbomRecord | undefined> {
    const { rows } = await this.#db.query<SbomRow>(
      "SELECT * FROM sboms WHERE serial_number = $1 ORDER BY imported_at DESC LIMIT 1",
      [serialNumber],
    );
    return rows[0] && toSbom(rows[0]);
  }

  async listSboms(): Promise<SbomSummary[]> {
    return (await this.#db.query<SbomRow>(`SELECT ${SUMMARY_COLUMNS} FROM sboms ORDER BY profile, firmware_version`)).rows.map(
      toSummary,
    );
  }

  async putAdvisories(
    advisories: readonly Advisory[],
    at: Millis,
  ): Promise<{ inserted: number; updated: number; unchanged: number }> {
    const counts = { inserted: 0, updated: 0, unchanged: 0 };
    await this.#db.tx(async (client) => {
      for (const a of advisories) {
        const { rows } = await client.query<{ modified: number }>("SELECT modified FROM advisories WHERE id = $1 FOR UPDATE", [
          a.id,
        ]);
        const existing = rows[0];
        if (existing !== undefined && existing.modified > a.modified) {
          counts.unchanged += 1; // OSV: a record's `modified` only moves forward
          continue;
        }
        if (existing === undefined) counts.inserted += 1;
        else counts.updated += 1;
        await client.query(
          "INSERT INTO advisories (id, modified, record, imported_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, record = excluded.record, imported_at = excluded.imported_at",
          [a.id, a.modified, JSON.stringify(a), at],
        );
        await client.query("DELETE FROM advisory_packages WHERE advisory_id = $1", [a.id]);
        for (const p of a.affected) {
          await client.query("INSERT INTO advisory_packages (package_key, advisory_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
            p.packageKey,
            a.id,
          ]);
        }
      }
    });
    return counts;
  }

  async advisoriesForPackages(packageKeys: readonly string[]): Promise<Map<string, Advisory[]>> {
    const out = new Map<string, Advisory[]>();
    if (packageKeys.length === 0) return out;
    const { rows } = await this.#db.query<{ package_key: string; record: string }>(
      "SELECT p.package_key, a.record FROM advisory_packages p JOIN advisories a ON a.id = p.advisory_id WHERE p.package_key = ANY($1::text[]) ORDER BY a.id",
      [[...packageKeys]],
    );
    for (const key of packageKeys) {
      const matches = rows.filter((r) => r.package_key === key).map((r) => JSON.parse(r.record) as Advisory);
      if (matches.length > 0) out.set(key, matches);
    }
    return out;
  }

  async advisoryCount(): Promise<number> {
    return (await this.#db.query<{ n: number }>("SELECT COUNT(*) AS n FROM advisories")).rows[0]?.n ?? 0;
  }

  async listAdvisories(query: { limit: number; after?: string | undefined }): Promise<Advisory[]> {
    const { rows } = await this.#db.query<{ record: string }>(
      "SELECT record FROM advisories WHERE id > $1 ORDER BY id LIMIT $2",
      [query.after ?? "", query.limit],
    );
    return rows.map((r) => JSON.parse(r.record) as Advisory);
  }

  async lastAdvisoryImportAt(): Promise<Millis | null> {
    return ((await this.#db.query<{ at: number | null }>("SELECT MAX(imported_at) AS at FROM advisories")).rows[0]?.at ??
      null) as Millis | null;
  }

  async putVex(statements: readonly VexStatement[], source: string, at: Millis): Promise<number> {
    let added = 0;
    await this.#db.tx(async (client) => {
      for (const s of statements) {
        const { rows } = await client.query<{ inserted: boolean }>(
          `INSERT INTO vex_statements (vulnerability, package_key, version, sbom_serial, state, justification, detail, source, imported_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (vulnerability, package_key, version, sbom_serial) DO UPDATE SET state = excluded.state, justification = excluded.justification,
             detail = excluded.detail, source = excluded.source, imported_at = excluded.imported_at
           RETURNING (xmax = 0) AS inserted`,
          [s.vulnerability, s.packageKey, s.version ?? "", s.sbomSerial ?? "", s.state, s.justification, s.detail, source, at],
        );
        if (rows[0]?.inserted === true) added += 1;
      }
    });
    return added;
  }

  async listVex(): Promise<VexStatement[]> {
    const { rows } = await this.#db.query<VexRow>("SELECT * FROM vex_statements ORDER BY vulnerability, package_key");
    return rows.map(toVex);
  }

  async listFindings(query: { deviceId?: DeviceId | undefined; status?: FindingStatus | undefined }): Promise<FindingRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.deviceId !== undefined) {
      args.push(query.deviceId);
      where.push(`device_id = $${args.length}`);
    }
    if (query.status !== undefined) {
      args.push(query.status);
      where.push(`status = $${args.length}`);
    }
    const order = query.deviceId !== undefined ? "advisory_id, component" : "device_id, advisory_id, component";
    const sql = `SELECT * FROM vulnerability_findings ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ${order}`;
    return (await this.#db.query<FindingRow>(sql, args)).rows.map(toFinding);
  }

  async saveFindings(findings: readonly FindingRecord[]): Promise<void> {
    if (findings.length === 0) return;
    await this.#db.tx(async (client) => {
      for (const f of findings) {
        await client.query({
          name: "vigil_finding_upsert",
          text: `INSERT INTO vulnerability_findings (device_id, advisory_id, component, component_version, sbom_id, severity, cvss, fixed_version, status, resolution, first_seen_at, last_seen_at, resolved_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (device_id, advisory_id, component) DO UPDATE SET component_version = excluded.component_version, sbom_id = excluded.sbom_id,
             severity = excluded.severity, cvss = excluded.cvss, fixed_version = excluded.fixed_version, status = excluded.status,
             resolution = excluded.resolution, first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at, resolved_at = excluded.resolved_at`,
          values: findingParams(f),
        });
      }
    });
  }

  async saveCheckRun(run: CheckRunRecord, keep: number): Promise<void> {
    await this.#db.tx(async (client) => {
      await client.query("INSERT INTO audit_check_runs (id, at, trigger, results) VALUES ($1, $2, $3, $4)", [
        run.id,
        run.at,
        run.trigger,
        JSON.stringify(run.results),
      ]);
      await client.query(
        "DELETE FROM audit_check_runs WHERE id NOT IN (SELECT id FROM audit_check_runs ORDER BY at DESC, ord DESC LIMIT $1)",
        [keep],
      );
    });
  }

  async lastCheckRun(): Promise<CheckRunRecord | undefined> {
    const { rows } = await this.#db.query<CheckRunRow>(
      "SELECT id, at, trigger, results FROM audit_check_runs ORDER BY at DESC, ord DESC LIMIT 1",
    );
    const row = rows[0];
    return row === undefined ? undefined : toCheckRun(row);
  }
}
