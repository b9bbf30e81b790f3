import { DeviceDto, DeviceListQuery, DeviceListResponse, ErrorBody, RegisterDeviceRequest } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { iso } from "../../core/index.js";
import type { DeviceRecord, DeviceRegistry } from "../../identity/index.js";
import type { Principal } from "../../operators/index.js";

function toDto(d: DeviceRecord): DeviceDto {
  return {
    id: d.id,
    profile: d.profile,
    state: d.state,
    firmwareVersion: d.firmwareVersion,
    createdAt: iso(d.createdAt),
    lastSeenAt: d.lastSeenAt === null ? null : iso(d.lastSeenAt),
  };
}

export const deviceRoutes: FastifyPluginAsyncZod<{ devices: DeviceRegistry }> = async (app, deps) => {
  app.get(
    "/",
    {
      schema: {
        tags: ["devices"],
        summary: "List devices, ordered by id, one page at a time.",
        querystring: DeviceListQuery,
        response: { 200: DeviceListResponse, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const page = await deps.devices.list(request.query);
      return { items: page.items.map(toDto), next: page.next };
    },
  );

  app.get(
    "/:id",
    {
      schema: {
        tags: ["devices"],
        summary: "One device.",
        params: z.object({ id: z.string().min(1).max(256) }),
        response: { 200: DeviceDto, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => toDto(await deps.devices.get(request.params.id)),
  );

  app.post(
    "/",
    {
      schema: {
        tags: ["devices"],
        summary: "Pre-register a device; it stays pending until it enrolls.",
        body: RegisterDeviceRequest,
        response: { 201: DeviceDto, 400: ErrorBody, 401: ErrorBody, 409: ErrorBody, 413: ErrorBody },
      },
    },
    async (request, reply) => {
      const by = (request.principal as Principal).username;
      const device = await deps.devices.register({ ...request.body, by });
      return reply.status(201).send(toDto(device));
    },
  );
};
