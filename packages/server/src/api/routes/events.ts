import { ErrorBody } from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { VigilError, isVigilError, type Clock, type Logger } from "../../core/index.js";
import type { DeviceRegistry } from "../../identity/index.js";
import { roleAllows, siteFilter, type Principal, type SessionRepository } from "../../operators/index.js";
import type { SignalBus } from "../../signals/index.js";
import { EventStreamHub, type StreamLimits } from "../event-stream-hub.js";

export interface EventRouteDeps {
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly devices: DeviceRegistry;
  /** Console sessions are re-checked (revoked, expired, idle) at each heartbeat without touching them. */
  readonly sessions?: Pick<SessionRepository, "findById"> | undefined;
  readonly sessionIdleSeconds?: number | undefined;
  readonly streamLimits?: Partial<StreamLimits> | undefined;
}

/**
 * The console's live updates: a server-sent-event stream of the signal bus (WHATWG HTML
 * §9.2 "Server-sent events"), filtered by the caller's permissions and sites. Each event is
 * `event: signal` with `data: {"name", "at", "payload"}`; `event: skipped` counts events a
 * client was too busy for; `event: end` says why the server closed the stream (logout,
 * revocation, expiry). Comment lines are heartbeats.
 */
export const eventRoutes: FastifyPluginAsyncZod<EventRouteDeps> = async (app, deps) => {
  const hub = new EventStreamHub({
    bus: deps.bus,
    clock: deps.clock,
    log: deps.log,
    limits: deps.streamLimits,
    siteOf: async (id) => {
      try {
        return (await deps.devices.get(id)).site;
      } catch (error) {
        if (isVigilError(error, "DEVICE_NOT_FOUND")) return undefined;
        throw error;
      }
    },
  });
  app.addHook("preClose", async () => hub.endAll("the server is stopping"));

  app.get(
    "/events/stream",
    {
      config: { permission: "incidents:read" },
      schema: {
        tags: ["events"],
        summary:
          "Live signals as server-sent events (Accept: text/event-stream): enrollments, trust changes, findings, incidents, gateway connects and denials, OTA progress. Only the caller's sites and permissions.",
        response: { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const accept = request.headers.accept ?? "";
      if (!accept.includes("text/event-stream")) {
        throw new VigilError("REQUEST_INVALID", "this route streams server-sent events", {
          hint: "Send `Accept: text/event-stream` (the browser's EventSource does).",
        });
      }
      if (hub.full) {
        throw new VigilError("SERVICE_UNAVAILABLE", `${hub.limits.maxClients} event streams are already open`, {
          hint: "Close a console tab, or retry later.",
        });
      }
      const principal = request.principal as Principal;
      const check = async (): Promise<string | undefined> => {
        const now = deps.clock.now();
        if (now >= principal.expiresAt) return "the session or token expired: log in again";
        if (principal.via !== "session" || deps.sessions === undefined) return undefined;
        const record = await deps.sessions.findById(principal.tokenId);
        if (record === undefined || record.revokedAt !== null) return "the session was closed: log in again";
        const idleMs = (deps.sessionIdleSeconds ?? Infinity) * 1000;
        if (now - record.lastSeenAt > idleMs) return "the session expired after inactivity: log in again";
        return undefined;
      };
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-accel-buffering": "no",
      });
      res.socket?.setNoDelay(true);
      await hub.attach(
        {
          username: principal.username,
          credentialId: principal.tokenId,
          sites: siteFilter(principal.sites),
          may: (permission) => roleAllows(principal.role, permission),
          check,
        },
        res,
      );
    },
  );
};
