import { DeviceTrustResponse, ErrorBody, TrustSummaryResponse } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { VigilError, iso } from "../../core/index.js";
import type { DeviceRegistry } from "../../identity/index.js";
import { siteFilter, type Principal } from "../../operators/index.js";
import type { EvidenceRef, TrustService } from "../../trust/index.js";

const ADVISORY = /^(CVE-\d{4}-\d{4,}|GHSA(-[23456789cfghjmpqrvwx]{4}){3}|OSV-[\w-]+|PYSEC-[\w-]+|GO-[\w-]+|RUSTSEC-[\w-]+)$/;

function evidenceDto(e: EvidenceRef) {
  const advisory = e.signal.startsWith("vulnerability.") && e.ref !== null && ADVISORY.test(e.ref);
  return {
    signal: e.signal,
    at: iso(e.at),
    ref: e.ref,
    link: advisory ? `https://osv.dev/vulnerability/${e.ref}` : null,
    summary: e.summary,
  };
}

const IdParams = z.object({ id: z.string().min(1).max(256) });
const principalOf = (request: { principal?: Principal }) => request.principal as Principal;
/** Site-bound operators see the distribution of their sites' devices only (bounded scan). */
const SITE_SCAN_PAGE = 1000;
const SITE_SCAN_PAGES = 1000;

/** The trust score's explanation per device, and the fleet's distribution by tier. Read scope. */
export const trustRoutes: FastifyPluginAsyncZod<{ trust: TrustService; devices: DeviceRegistry }> = async (app, deps) => {
  app.get(
    "/devices/:id/trust",
    {
      config: { permission: "incidents:read" },
      schema: {
        tags: ["trust"],
        summary: "A device's trust score, tier, every factor with its weight, contribution and evidence, and its history.",
        params: IdParams,
        response: { 200: DeviceTrustResponse, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      // DEVICE_NOT_FOUND when there is none, or it is outside the operator's sites.
      const device = await deps.devices.get(request.params.id, siteFilter(principalOf(request).sites));
      const explained = deps.trust.explain(device.id);
      if (explained === undefined) {
        throw new VigilError("TRUST_NOT_SCORED", `device ${device.id} has no trust score yet (state ${device.state})`, {
          hint: "A device is scored when it enrolls.",
        });
      }
      const history = await deps.trust.history(request.params.id);
      return {
        device: explained.device,
        score: explained.score,
        tier: explained.tier,
        scoreTier: explained.scoreTier,
        vertical: explained.vertical,
        thresholds: explained.thresholds,
        ceilings: explained.ceilings.map((c) => ({ tier: c.tier, reason: c.reason, evidence: c.evidence.map(evidenceDto) })),
        quarantineAwaitsApproval: explained.quarantineAwaitsApproval,
        connected: explained.connected,
        factors: explained.factors.map((f) => ({ ...f, evidence: f.evidence.map(evidenceDto) })),
        history: history.map((h) => ({ at: iso(h.at), score: h.score, tier: h.tier, from: h.from, reasons: [...h.reasons] })),
      };
    },
  );

  app.get(
    "/trust",
    {
      config: { permission: "incidents:read" },
      schema: {
        tags: ["trust"],
        summary: "How many devices are in each trust tier, the thresholds, and the lowest-scored devices.",
        querystring: z.object({ lowest: z.coerce.number().int().min(0).max(200).default(20) }).strict(),
        response: { 200: TrustSummaryResponse, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const sites = siteFilter(principalOf(request).sites);
      let visible: Set<string> | undefined;
      if (sites !== undefined) {
        visible = new Set();
        let after: string | undefined;
        for (let page = 0; page < SITE_SCAN_PAGES; page++) {
          const { items, next } = await deps.devices.list({ limit: SITE_SCAN_PAGE, after, sites });
          for (const d of items) visible.add(d.id);
          if (next === null) break;
          after = next;
        }
      }
      const d = deps.trust.distribution(request.query.lowest, visible === undefined ? undefined : (id) => visible.has(id));
      return { devices: d.devices, tiers: d.tiers, thresholds: deps.trust.params.thresholds, lowest: [...d.lowest] };
    },
  );
};
