import { ErrorBody, HealthResponse, ReadyResponse, StatusResponse } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Metrics } from "../../core/index.js";
import type { ServiceState } from "../../core/index.js";

/** What the health and status routes may ask of the running platform (a port app/ implements). */
export interface PlatformStatus {
  ready(): boolean;
  services(): { name: string; state: ServiceState }[];
  readonly startedAt: Date;
  readonly dataDir: string;
  store(): Promise<{ engine: string; schemaVersion: number }>;
  counts(): Promise<{ devices: number; operators: number }>;
}

export const healthRoutes: FastifyPluginAsyncZod<{ platform: PlatformStatus; metrics: Metrics; version: string }> = async (
  app,
  deps,
) => {
  const uptime = () => Math.round((Date.now() - deps.platform.startedAt.getTime()) / 1000);

  app.get(
    "/healthz",
    {
      config: { public: true },
      schema: { tags: ["health"], summary: "Liveness: the process answers.", security: [], response: { 200: HealthResponse } },
    },
    async () => ({ status: "ok" as const, version: deps.version, uptimeSeconds: uptime() }),
  );

  app.get(
    "/readyz",
    {
      config: { public: true },
      schema: {
        tags: ["health"],
        summary: "Readiness: every service has started.",
        security: [],
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      const ready = deps.platform.ready();
      return reply.status(ready ? 200 : 503).send({ ready, services: deps.platform.services() });
    },
  );

  app.get(
    "/metrics",
    {
      config: { public: true },
      schema: {
        tags: ["health"],
        summary: "Prometheus metrics (text exposition format).",
        security: [],
        produces: ["text/plain"],
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await deps.metrics.render();
      return reply.type(contentType).send(body);
    },
  );

  app.get(
    "/api/v1/status",
    {
      config: { permission: "status:read" },
      schema: {
        tags: ["health"],
        summary: "What is running, where, and how much it holds.",
        response: { 200: StatusResponse, 401: ErrorBody },
      },
    },
    async () => ({
      version: deps.version,
      startedAt: deps.platform.startedAt.toISOString(),
      uptimeSeconds: uptime(),
      dataDir: deps.platform.dataDir,
      store: await deps.platform.store(),
      counts: await deps.platform.counts(),
      services: deps.platform.services(),
    }),
  );
};
