import { z } from "zod";

/** Wire types of the assessment API: SBOMs, advisories, VEX, findings, audit checks, reports. */

export const ImportIssueDto = z.object({
  level: z.enum(["error", "warning"]),
  code: z.string().describe("Stable issue code (docs/assessment.md): JSON_MALFORMED, PURL_TYPE_UNKNOWN, VERSION_UNPARSABLE..."),
  path: z.string().describe("Where in the record, as a JSON path"),
  message: z.string(),
});
export type ImportIssueDto = z.infer<typeof ImportIssueDto>;

export const ScanResultDto = z.object({
  at: z.string(),
  devices: z.number(),
  devicesWithSbom: z.number(),
  openFindings: z.number(),
  newFindings: z.number(),
  resolvedFindings: z.number(),
  suppressedByVex: z.number(),
  problems: z.array(z.object({ device: z.string(), component: z.string(), advisory: z.string(), message: z.string() })),
});
export type ScanResultDto = z.infer<typeof ScanResultDto>;

export const SbomDto = z.object({
  id: z.string(),
  profile: z.string().nullable(),
  firmwareVersion: z.string(),
  specVersion: z.string(),
  serialNumber: z.string().nullable(),
  bomVersion: z.number(),
  subjectName: z.string().nullable(),
  sha256: z.string(),
  componentCount: z.number(),
  importedAt: z.string(),
  importedBy: z.string(),
});
export type SbomDto = z.infer<typeof SbomDto>;

export const ImportSbomRequest = z
  .object({
    profile: z.string().min(1).max(64).nullable().optional().describe("Device profile the firmware belongs to (null: any)"),
    firmwareVersion: z.string().min(1).max(128).optional().describe("Default: the SBOM's metadata.component.version"),
    document: z
      .union([z.string(), z.record(z.string(), z.unknown())])
      .describe("The CycloneDX 1.5/1.6 JSON BOM, as an object or as its text"),
  })
  .strict();
export type ImportSbomRequest = z.infer<typeof ImportSbomRequest>;

export const ImportSbomResponse = z.object({
  sbom: SbomDto,
  replaced: z.boolean(),
  vexStatements: z.number(),
  issues: z.array(ImportIssueDto),
  scan: ScanResultDto,
});
export type ImportSbomResponse = z.infer<typeof ImportSbomResponse>;

export const ImportAdvisoriesRequest = z
  .object({
    records: z
      .array(
        z.object({
          source: z.string().min(1).max(1024).describe("File or ZIP entry name, for the report"),
          content: z.string().describe("The file's text: one OSV record, or a JSON array of records"),
        }),
      )
      .min(1)
      .max(100_000),
  })
  .strict();
export type ImportAdvisoriesRequest = z.infer<typeof ImportAdvisoriesRequest>;

export const AdvisoryRecordResultDto = z.object({
  source: z.string(),
  id: z.string().nullable(),
  status: z.enum(["imported", "rejected"]),
  issues: z.array(ImportIssueDto),
});
export type AdvisoryRecordResultDto = z.infer<typeof AdvisoryRecordResultDto>;

export const ImportAdvisoriesResponse = z.object({
  records: z.number(),
  imported: z.number(),
  rejected: z.number(),
  inserted: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  results: z.array(AdvisoryRecordResultDto),
  scan: ScanResultDto,
});
export type ImportAdvisoriesResponse = z.infer<typeof ImportAdvisoriesResponse>;

export const AdvisoryDto = z.object({
  id: z.string(),
  modified: z.string(),
  withdrawn: z.string().nullable(),
  aliases: z.array(z.string()),
  summary: z.string(),
  severity: z.string(),
  cvss: z.number().nullable(),
  cvssVector: z.string().nullable(),
  packages: z.array(z.string()),
});
export type AdvisoryDto = z.infer<typeof AdvisoryDto>;

export const AdvisoryListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    after: z.string().max(256).optional(),
  })
  .strict();
export const AdvisoryListResponse = z.object({ items: z.array(AdvisoryDto), total: z.number(), next: z.string().nullable() });
export type AdvisoryListResponse = z.infer<typeof AdvisoryListResponse>;

export const ImportVexRequest = z
  .object({ document: z.union([z.string(), z.record(z.string(), z.unknown())]).describe("A CycloneDX 1.5/1.6 VEX document") })
  .strict();
export const ImportVexResponse = z.object({ statements: z.number(), issues: z.array(ImportIssueDto), scan: ScanResultDto });
export type ImportVexResponse = z.infer<typeof ImportVexResponse>;

export const FindingDto = z.object({
  device: z.string(),
  advisory: z.string(),
  component: z.string(),
  componentVersion: z.string(),
  severity: z.string(),
  cvss: z.number().nullable(),
  fixedVersion: z.string().nullable().describe("The lowest version that fixes it: the update to suggest"),
  status: z.enum(["open", "resolved"]),
  resolution: z.string().nullable(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  resolvedAt: z.string().nullable(),
});
export type FindingDto = z.infer<typeof FindingDto>;

export const FindingListQuery = z
  .object({
    device: z.string().min(1).max(128).optional(),
    status: z.enum(["open", "resolved"]).optional(),
  })
  .strict();
export const FindingListResponse = z.object({ items: z.array(FindingDto) });
export type FindingListResponse = z.infer<typeof FindingListResponse>;

export const CheckResultDto = z.object({
  id: z.string(),
  title: z.string(),
  severity: z.enum(["low", "medium", "high", "critical"]),
  status: z.enum(["pass", "fail", "warning", "not_applicable", "not_assessed", "error"]),
  summary: z.string(),
  remediation: z.string(),
  evidence: z.record(z.string(), z.unknown()),
  affected: z.array(z.string()),
  affectedCount: z.number(),
});
export type CheckResultDto = z.infer<typeof CheckResultDto>;

export const RunChecksRequest = z
  .object({ checks: z.array(z.string().min(1).max(64)).max(64).optional().describe("Only these check ids (default: all)") })
  .strict();
export const CheckRunDto = z.object({
  id: z.string(),
  at: z.string(),
  trigger: z.enum(["scheduled", "on-demand", "report"]),
  results: z.array(CheckResultDto),
});
export type CheckRunDto = z.infer<typeof CheckRunDto>;
export const LastCheckRunResponse = z.object({ run: CheckRunDto.nullable() });
export type LastCheckRunResponse = z.infer<typeof LastCheckRunResponse>;

export const ReportQuery = z
  .object({
    format: z.enum(["json", "html", "pdf"]).default("json"),
    vertical: z
      .enum(["healthcare", "automotive", "smart-city", "industrial", "payments", "default"])
      .optional()
      .describe("Vertical profile weighting the CIA scorecard (default: trust.vertical, else the fleet's most common)"),
  })
  .strict();
export type ReportQuery = z.infer<typeof ReportQuery>;

/** Response header carrying the SHA-256 of the report body (also recorded in the audit log). */
export const REPORT_SHA256_HEADER = "x-vigil-content-sha256";
