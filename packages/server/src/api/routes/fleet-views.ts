import { ErrorBody } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { iso, isVigilError } from "../../core/index.js";
import type { AssetStatus, AssetView, Finding } from "../../detection/index.js";
import type { SessionInfo } from "../../gateway/index.js";
import type { DeviceRegistry } from "../../identity/index.js";
import { siteFilter, type Principal } from "../../operators/index.js";
import type { Profile } from "../../policy/index.js";

export interface FleetViewDeps {
  /** The device profiles loaded at start (undefined before). */
  readonly profiles?: () => ReadonlyMap<string, Profile> | undefined;
  /** The detector's recent findings, oldest first (empty when detection is disabled). */
  readonly findings?: () => readonly Finding[];
  /** The gateway's live device sessions (empty when the gateway is off). */
  readonly gatewaySessions?: () => readonly SessionInfo[];
  /** Hosts seen by packet analysis (empty when detection is disabled). */
  readonly assets?: (query: { status?: AssetStatus; limit: number }) => AssetView[];
}

const AssetDto = z.object({
  key: z.string(),
  mac: z.string().nullable(),
  ip: z.string().nullable(),
  status: z.enum(["enrolled", "identified", "unknown"]),
  device: z.string().nullable(),
  deviceType: z.string().nullable(),
  confidence: z.number().nullable(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  anomalies: z.number(),
  source: z.string(),
});

const ProfileDto = z.object({
  id: z.string(),
  description: z.string(),
  vertical: z.string(),
  safetyCritical: z.boolean(),
  publish: z.array(z.string()),
  subscribe: z.array(z.string()),
  subscribeWildcards: z.boolean(),
  maxMessagesPerSecond: z.number(),
  burst: z.number(),
  maxPayloadBytes: z.number(),
  maxQos: z.number(),
  retainAllowed: z.boolean(),
  sensitivePayload: z.boolean(),
});

const DetectionDto = z.object({
  id: z.string(),
  device: z.string(),
  rule: z.string(),
  severity: z.string(),
  category: z.string(),
  confidence: z.number(),
  at: z.string(),
  action: z.string(),
  detectToBlockMs: z.number().nullable(),
  evidence: z.record(z.string(), z.unknown()),
});

/** Read-only views for the console that no other route serves: device profiles and recent detections. */
export const fleetViewRoutes: FastifyPluginAsyncZod<FleetViewDeps & { devices: DeviceRegistry }> = async (app, deps) => {
  app.get(
    "/profiles",
    {
      config: { permission: "profiles:read" },
      schema: {
        tags: ["profiles"],
        summary: "The device profiles in force: allowed topics, rates, sizes, QoS (what least privilege is compiled from).",
        response: { 200: z.object({ items: z.array(ProfileDto) }), 401: ErrorBody, 403: ErrorBody },
      },
    },
    async () => ({
      items: [...(deps.profiles?.()?.values() ?? [])]
        .map((p) => ({ ...p, publish: [...p.publish], subscribe: [...p.subscribe] }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    }),
  );

  app.get(
    "/gateway/sessions",
    {
      config: { permission: "devices:read" },
      schema: {
        tags: ["devices"],
        summary: "The devices connected to the MQTT gateway now (only the caller's sites), with the tier in force.",
        response: {
          200: z.object({
            items: z.array(
              z.object({
                device: z.string(),
                remote: z.string(),
                serial: z.string(),
                profile: z.string().nullable(),
                tier: z.string().nullable(),
                legacy: z.boolean(),
              }),
            ),
          }),
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (request) => {
      const sites = siteFilter((request.principal as Principal).sites);
      const items = [];
      for (const s of deps.gatewaySessions?.() ?? []) {
        if (sites === undefined || (await inSites(deps.devices, s.device, sites))) items.push({ ...s });
      }
      return { items };
    },
  );

  app.get(
    "/network/assets",
    {
      config: { permission: "devices:read" },
      schema: {
        tags: ["devices"],
        summary:
          "Hosts packet analysis has seen, most recent first: enrolled (an enrolled device holds the address), identified (type recognised, not enrolled) or unknown. Operators bound to sites see only their sites' enrolled devices.",
        querystring: z
          .object({
            status: z.enum(["enrolled", "identified", "unknown"]).optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(200),
          })
          .strict(),
        response: { 200: z.object({ items: z.array(AssetDto) }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => {
      const sites = siteFilter((request.principal as Principal).sites);
      const items: z.infer<typeof AssetDto>[] = [];
      for (const a of deps.assets?.({
        limit: request.query.limit,
        ...(request.query.status ? { status: request.query.status } : {}),
      }) ?? []) {
        // A host no enrolled device holds belongs to no site: only all-site operators see it.
        if (sites !== undefined && (a.device === null || !(await inSites(deps.devices, a.device, sites)))) continue;
        items.push({ ...a, firstSeen: iso(a.firstSeen), lastSeen: iso(a.lastSeen) });
      }
      return { items };
    },
  );

  app.get(
    "/detections",
    {
      config: { permission: "incidents:read" },
      schema: {
        tags: ["incidents"],
        summary:
          "The detector's recent findings, newest first (only the caller's sites): rule, severity, action taken, detect-to-block time.",
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) }).strict(),
        response: { 200: z.object({ items: z.array(DetectionDto) }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => {
      const sites = siteFilter((request.principal as Principal).sites);
      const all = deps.findings?.() ?? [];
      const items: z.infer<typeof DetectionDto>[] = [];
      const seen = new Map<string, boolean>();
      for (let i = all.length - 1; i >= 0 && items.length < request.query.limit; i--) {
        const f = all[i]!;
        let visible = seen.get(f.device);
        if (visible === undefined) {
          visible = sites === undefined || (await inSites(deps.devices, f.device, sites));
          seen.set(f.device, visible);
        }
        if (!visible) continue;
        items.push({
          id: f.id,
          device: f.device,
          rule: f.rule,
          severity: f.severity,
          category: f.category,
          confidence: f.confidence,
          at: iso(f.at),
          action: f.action,
          detectToBlockMs: f.detectToBlockMs,
          evidence: { ...f.evidence },
        });
      }
      return { items };
    },
  );
};

async function inSites(devices: DeviceRegistry, id: string, sites: readonly string[]): Promise<boolean> {
  try {
    await devices.get(id, sites);
    return true;
  } catch (error) {
    if (isVigilError(error, "DEVICE_NOT_FOUND")) return false;
    throw error;
  }
}
