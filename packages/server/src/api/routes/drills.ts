import { CreateDrillRequest, DrillDto, DrillListDto, ErrorBody } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { VigilError, iso } from "../../core/index.js";
import type { Principal } from "../../operators/index.js";
import type { Drill, DrillRegistry, SignalBus } from "../../signals/index.js";

const IdParams = z.object({ id: z.string().min(1).max(64) });
const principalOf = (request: { principal?: Principal }) => request.principal as Principal;

function dto(d: Drill, now: number): DrillDto {
  return {
    id: d.id,
    name: d.name,
    devices: [...d.devices],
    prefixes: [...d.prefixes],
    startedAt: iso(d.startedAt),
    endsAt: iso(d.endsAt),
    active: now >= d.startedAt && now < d.endsAt,
    by: d.by,
  };
}

/**
 * Drills (`vigil drill`): registering one before it runs makes the platform tag what it
 * triggers. Starting and ending a drill act on incidents' meaning: `incidents:write`.
 */
export const drillRoutes: FastifyPluginAsyncZod<{ drills: DrillRegistry; bus: SignalBus; clock: { now(): number } }> = async (
  app,
  deps,
) => {
  app.post(
    "/drills",
    {
      config: { permission: "incidents:write" },
      schema: {
        tags: ["incidents"],
        summary:
          "Registers a drill: its devices (and device-id prefixes) for a time; audit entries, incidents and outgoing events about them carry the drill's id.",
        body: CreateDrillRequest,
        response: { 201: DrillDto, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const by = principalOf(request).username;
      const drill = deps.drills.start({
        name: body.name,
        devices: body.devices ?? [],
        prefixes: body.prefixes ?? [],
        durationMs: body.durationSeconds * 1000,
        by,
      });
      await deps.drills.save(drill);
      deps.bus.emit("drill.started", {
        drill: drill.id,
        name: drill.name,
        devices: drill.devices.length,
        prefixes: [...drill.prefixes],
        until: iso(drill.endsAt),
        by,
      });
      return reply.code(201).send(dto(drill, deps.clock.now()));
    },
  );

  app.get(
    "/drills",
    {
      config: { permission: "incidents:read" },
      schema: {
        tags: ["incidents"],
        summary: "Drills, the latest first (the last 200, kept in the store).",
        response: { 200: DrillListDto, 401: ErrorBody },
      },
    },
    async () => ({ items: deps.drills.list().map((d) => dto(d, deps.clock.now())) }),
  );

  app.post(
    "/drills/:id/end",
    {
      config: { permission: "incidents:write" },
      schema: {
        tags: ["incidents"],
        summary: "Ends a drill now: what happens afterwards is no longer tagged.",
        params: IdParams,
        response: { 200: DrillDto, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const drill = deps.drills.end(request.params.id);
      if (drill === undefined)
        throw new VigilError("DRILL_NOT_FOUND", `no drill ${request.params.id}`, { hint: "List them with GET /api/v1/drills." });
      await deps.drills.save(drill);
      deps.bus.emit("drill.ended", { drill: drill.id, by: principalOf(request).username });
      return dto(drill, deps.clock.now());
    },
  );
};
