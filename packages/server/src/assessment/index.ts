// The assessment module's front door: SBOMs (CycloneDX), advisories (OSV), VEX, findings per
// device, scheduled audit checks, the compliance mapping, the CIA scorecard and reports.
export { ASSESSMENT_DEFAULTS, assessmentConfigSchema, type AssessmentConfig } from "./assessment-config.js";
export {
  AssessmentService,
  type AssessmentDeps,
  type AdvisoryImportResult,
  type AdvisoryRecordResult,
  type CheckRunResult,
  type RenderedReport,
  type SbomImportResult,
  type ScanResult,
} from "./assessment-service.js";
export {
  AUDIT_CHECKS,
  AUDIT_CHECK_IDS,
  runAuditChecks,
  type CheckResult,
  type CheckStatus,
  type CheckSeverity,
} from "./audit-checks.js";
export {
  FRAMEWORKS,
  controlCatalogue,
  evaluateControls,
  type ControlResult,
  type ControlStatus,
  type FrameworkId,
} from "./compliance.js";
export { REPORT_FORMATS, REPORT_SECTIONS, type ComplianceReport, type ReportFormat } from "./compliance-report.js";
export { OUTCOME_CHECKS, buildScorecard, type Scorecard } from "./scorecard.js";
export { IMPORT_ISSUE_CODES, type ImportIssue, type ImportIssueCode } from "./import-issues.js";
export { cvss2BaseScore, cvss3BaseScore, severityOfScore, type Severity } from "./cvss.js";
export { parseCycloneDx, parseCycloneDxVex, type SbomComponent, type VexStatement } from "./cyclonedx.js";
export { parseOsv, type Advisory, type AffectedPackage } from "./osv.js";
export { parsePurl, packageKey, KNOWN_PURL_TYPES, type Purl } from "./purl.js";
export { compareVersions, schemeOfPurlType, type VersionScheme } from "./versions.js";
export type { CaCertificateView, EnrollmentTokenView, FleetSnapshot, LiveSessions, LiveSessionView } from "./fleet-snapshot.js";
export type { AssessmentRepository, CheckRunRecord, FindingRecord, FindingStatus, SbomRecord, SbomSummary } from "./ports.js";
