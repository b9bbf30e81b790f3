import type { DeviceId, Millis } from "../core/index.js";
import type { Severity } from "./cvss.js";
import type { SbomComponent, VexStatement } from "./cyclonedx.js";
import type { Advisory } from "./osv.js";

/** One SBOM: the software of one firmware version (of one profile, or of any when null). */
export interface SbomRecord {
  readonly id: string;
  readonly profile: string | null;
  readonly firmwareVersion: string;
  readonly specVersion: string;
  /** CycloneDX serialNumber (urn:uuid:...), lower-case; devices may declare it as their sbomRef. */
  readonly serialNumber: string | null;
  readonly bomVersion: number;
  readonly subjectName: string | null;
  /** SHA-256 of the document as imported. */
  readonly sha256: string;
  readonly components: readonly SbomComponent[];
  readonly importedAt: Millis;
  readonly importedBy: string;
}

/** An SBOM without its components, with their count. */
export type SbomSummary = Omit<SbomRecord, "components"> & { readonly componentCount: number };

export type FindingStatus = "open" | "resolved";

/** A vulnerability on a device: device -> firmware -> SBOM -> component -> advisory. */
export interface FindingRecord {
  readonly deviceId: DeviceId;
  readonly advisoryId: string;
  /** The component's purl (or package key when it had no version in its purl). */
  readonly component: string;
  readonly componentVersion: string;
  readonly sbomId: string;
  readonly severity: Severity;
  readonly cvss: number | null;
  /** The lowest version that fixes it, when the advisory gives one: the update to suggest. */
  readonly fixedVersion: string | null;
  readonly status: FindingStatus;
  /** Why it was resolved: `no-longer-affected` (update, new SBOM, advisory changed) or `vex` (suppressed). */
  readonly resolution: "no-longer-affected" | "vex" | "device-removed" | null;
  readonly firstSeenAt: Millis;
  readonly lastSeenAt: Millis;
  readonly resolvedAt: Millis | null;
}

/** One run of the audit checks, kept so that reports can show when checks last ran. */
export interface CheckRunRecord {
  readonly id: string;
  readonly at: Millis;
  readonly trigger: "scheduled" | "on-demand" | "report";
  /** The results, as JSON-ready values (see audit-checks.ts `CheckResult`). */
  readonly results: readonly unknown[];
}

/**
 * Port: what the assessment module persists. The store implements it (SQLite today).
 * Every write is one transaction.
 */
export interface AssessmentRepository {
  /** Inserts or replaces the SBOM of (profile, firmwareVersion); returns the id kept. */
  putSbom(record: SbomRecord): Promise<void>;
  getSbom(id: string): Promise<SbomRecord | undefined>;
  findSbom(query: { profile: string | null; firmwareVersion: string }): Promise<SbomRecord | undefined>;
  findSbomBySerial(serialNumber: string): Promise<SbomRecord | undefined>;
  /** Every SBOM without its components (for listings and "newest firmware" questions). */
  listSboms(): Promise<SbomSummary[]>;

  /** Inserts or replaces advisories by id (a newer `modified` wins; an older one is ignored). */
  putAdvisories(advisories: readonly Advisory[], at: Millis): Promise<{ inserted: number; updated: number; unchanged: number }>;
  advisoriesForPackages(packageKeys: readonly string[]): Promise<Map<string, Advisory[]>>;
  advisoryCount(): Promise<number>;
  listAdvisories(query: { limit: number; after?: string | undefined }): Promise<Advisory[]>;
  lastAdvisoryImportAt(): Promise<Millis | null>;

  /** Adds VEX statements (a statement equal to one kept already is not added twice). */
  putVex(statements: readonly VexStatement[], source: string, at: Millis): Promise<number>;
  listVex(): Promise<VexStatement[]>;

  listFindings(query: { deviceId?: DeviceId | undefined; status?: FindingStatus | undefined }): Promise<FindingRecord[]>;
  /** Writes the findings of one scan in one transaction (upsert by device, advisory, component). */
  saveFindings(findings: readonly FindingRecord[]): Promise<void>;

  saveCheckRun(run: CheckRunRecord, keep: number): Promise<void>;
  lastCheckRun(): Promise<CheckRunRecord | undefined>;
}
