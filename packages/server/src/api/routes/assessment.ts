import {
  AdvisoryListQuery,
  AdvisoryListResponse,
  CheckRunDto,
  ErrorBody,
  FindingListQuery,
  FindingListResponse,
  ImportAdvisoriesRequest,
  ImportAdvisoriesResponse,
  ImportSbomRequest,
  ImportSbomResponse,
  ImportVexRequest,
  ImportVexResponse,
  LastCheckRunResponse,
  REPORT_SHA256_HEADER,
  ReportQuery,
  RunChecksRequest,
  ScanResultDto,
  SbomDto,
} from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AssessmentService, FindingRecord, SbomSummary } from "../../assessment/index.js";
import { iso, parseDeviceId } from "../../core/index.js";
import type { Principal } from "../../operators/index.js";

const by = (request: { principal?: Principal }) => request.principal?.username ?? "unknown";

function sbomDto(s: SbomSummary): SbomDto {
  return { ...s, importedAt: iso(s.importedAt) };
}

function findingDto(f: FindingRecord) {
  return {
    device: f.deviceId,
    advisory: f.advisoryId,
    component: f.component,
    componentVersion: f.componentVersion,
    severity: f.severity,
    cvss: f.cvss,
    fixedVersion: f.fixedVersion,
    status: f.status,
    resolution: f.resolution,
    firstSeenAt: iso(f.firstSeenAt),
    lastSeenAt: iso(f.lastSeenAt),
    resolvedAt: f.resolvedAt === null ? null : iso(f.resolvedAt),
  };
}

/** Room for the JSON wrapping around the largest SBOM accepted. */
const ENVELOPE_BYTES = 64 * 1024;
/** Advisory batches: the CLI sends at most 16 MiB per request. */
const ADVISORY_BODY_LIMIT = 64 * 1024 * 1024;

/**
 * Vulnerability assessment, audit checks and compliance reports. Reading evidence (and
 * running checks, which changes nothing in the fleet) needs `audit:read`; importing SBOMs,
 * advisories and VEX, which changes findings and so trust, needs `firmware:write`.
 */
export const assessmentRoutes: FastifyPluginAsyncZod<{ assessment: AssessmentService; maxSbomBytes: number }> = async (
  app,
  deps,
) => {
  const a = deps.assessment;

  app.post(
    "/sboms",
    {
      config: { permission: "firmware:write" },
      bodyLimit: deps.maxSbomBytes + ENVELOPE_BYTES,
      schema: {
        tags: ["assessment"],
        summary: "Import a CycloneDX 1.5/1.6 SBOM for a firmware version (replaces the one of the same profile and version).",
        body: ImportSbomRequest,
        response: { 200: ImportSbomResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 413: ErrorBody },
      },
    },
    async (request) => {
      const result = await a.importSbom({
        document: request.body.document,
        profile: request.body.profile ?? null,
        firmwareVersion: request.body.firmwareVersion ?? null,
        by: by(request),
      });
      return { ...result, sbom: sbomDto(result.sbom) };
    },
  );

  app.get(
    "/sboms",
    {
      config: { permission: "audit:read" },
      schema: {
        tags: ["assessment"],
        summary: "The SBOMs held, one per firmware version.",
        response: { 200: z.object({ items: z.array(SbomDto) }), 401: ErrorBody },
      },
    },
    async () => ({ items: (await a.listSboms()).map(sbomDto) }),
  );

  app.post(
    "/advisories/import",
    {
      config: { permission: "firmware:write" },
      bodyLimit: ADVISORY_BODY_LIMIT,
      schema: {
        tags: ["assessment"],
        summary:
          "Import OSV advisories (offline). Each record is validated on its own: the broken ones are reported, the rest imported.",
        body: ImportAdvisoriesRequest,
        response: { 200: ImportAdvisoriesResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 413: ErrorBody },
      },
    },
    async (request) => a.importAdvisories({ records: request.body.records, by: by(request) }),
  );

  app.get(
    "/advisories",
    {
      config: { permission: "audit:read" },
      schema: {
        tags: ["assessment"],
        summary: "Advisories held, ordered by id, one page at a time.",
        querystring: AdvisoryListQuery,
        response: { 200: AdvisoryListResponse, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const items = await a.listAdvisories({ limit: request.query.limit + 1, after: request.query.after });
      const page = items.slice(0, request.query.limit);
      return {
        items: page.map((x) => ({
          id: x.id,
          modified: iso(x.modified),
          withdrawn: x.withdrawn === null ? null : iso(x.withdrawn),
          aliases: [...x.aliases],
          summary: x.summary,
          severity: x.severity,
          cvss: x.cvss,
          cvssVector: x.cvssVector,
          packages: [...new Set(x.affected.map((p) => `pkg:${p.packageKey}`))],
        })),
        total: await a.advisoryCount(),
        next: items.length > request.query.limit ? (page.at(-1)?.id ?? null) : null,
      };
    },
  );

  app.post(
    "/vex",
    {
      config: { permission: "firmware:write" },
      bodyLimit: deps.maxSbomBytes + ENVELOPE_BYTES,
      schema: {
        tags: ["assessment"],
        summary: "Import CycloneDX VEX statements; not_affected and false_positive suppress the findings they name.",
        body: ImportVexRequest,
        response: { 200: ImportVexResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 413: ErrorBody },
      },
    },
    async (request) => a.importVex({ document: request.body.document, by: by(request) }),
  );

  app.post(
    "/vulnerabilities/scan",
    {
      config: { permission: "audit:read" },
      schema: {
        tags: ["assessment"],
        summary: "Match every live device's SBOM against the advisories now and update the findings.",
        response: { 200: ScanResultDto, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async () => a.scan(),
  );

  app.get(
    "/vulnerabilities",
    {
      config: { permission: "audit:read" },
      schema: {
        tags: ["assessment"],
        summary: "Vulnerability findings per device (device -> firmware -> SBOM -> component -> advisory).",
        querystring: FindingListQuery,
        response: { 200: FindingListResponse, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const device = request.query.device === undefined ? undefined : parseDeviceId(request.query.device);
      if (request.query.device !== undefined && device === undefined) return { items: [] };
      return { items: (await a.listFindings({ deviceId: device, status: request.query.status })).map(findingDto) };
    },
  );

  app.post(
    "/audit-checks/run",
    {
      config: { permission: "audit:read" },
      schema: {
        tags: ["assessment"],
        summary: "Run the audit checks now (all, or those named) and keep the results.",
        body: RunChecksRequest.optional(),
        response: { 200: CheckRunDto, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => a.runChecks("on-demand", request.body?.checks),
  );

  app.get(
    "/audit-checks",
    {
      config: { permission: "audit:read" },
      schema: {
        tags: ["assessment"],
        summary: "The last run of the audit checks (scheduled, on demand or for a report).",
        response: { 200: LastCheckRunResponse, 401: ErrorBody },
      },
    },
    async () => ({ run: (await a.lastCheckRun()) ?? null }),
  );

  app.get(
    "/reports/compliance",
    {
      config: { permission: "audit:read" },
      schema: {
        tags: ["assessment"],
        summary:
          "The compliance report (NIST CSF 2.0, NIST IR 8259A, ETSI EN 303 645, CIA scorecard) as JSON, HTML or PDF; its SHA-256 is in the x-vigil-content-sha256 header and the audit log.",
        querystring: ReportQuery,
        response: {
          200: z.unknown().describe("The report: application/json, text/html or application/pdf"),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const rendered = await a.renderReport({ format: request.query.format, vertical: request.query.vertical, by: by(request) });
      const stamp = rendered.generatedAt.replace(/[:.]/g, "-");
      return reply
        .header("content-type", rendered.contentType)
        .header("content-disposition", `attachment; filename="vigil-compliance-${stamp}.${rendered.format}"`)
        .header(REPORT_SHA256_HEADER, rendered.sha256)
        .header("cache-control", "no-store")
        .send(rendered.body);
    },
  );
};
