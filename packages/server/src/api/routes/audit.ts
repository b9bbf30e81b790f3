import { AuditListQuery, AuditListResponse, ErrorBody, type AuditEntryDto } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { AuditEntry, AuditLog } from "../../audit/index.js";
import { iso } from "../../core/index.js";

function toDto(e: AuditEntry): AuditEntryDto {
  let details: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(e.details);
    details = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    // Only a tampered row has unparsable details; show it, `vigil audit verify` names it.
    details = { unparsable: e.details.slice(0, 256) };
  }
  return {
    seq: e.seq,
    at: iso(e.at),
    actor: e.actor,
    action: e.action,
    target: e.target,
    outcome: e.outcome,
    details,
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

export const auditRoutes: FastifyPluginAsyncZod<{ audit: AuditLog }> = async (app, deps) => {
  app.get(
    "/",
    {
      config: { permission: "audit:read" },
      schema: {
        tags: ["audit"],
        summary: "The audit log, oldest first, one page at a time (entries after the cursor `after`).",
        querystring: AuditListQuery,
        response: { 200: AuditListResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => {
      const page = await deps.audit.list(request.query);
      return { items: page.items.map(toDto), next: page.next, head: page.head };
    },
  );
};
