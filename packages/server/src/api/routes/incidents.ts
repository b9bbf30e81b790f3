import {
  ErrorBody,
  IncidentDto,
  IncidentFleetMeasuresDto,
  IncidentListDto,
  PlaybookListDto,
  PlaybookValidationDto,
} from "@vigil/contract";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { VigilError, iso, isVigilError } from "../../core/index.js";
import type { DeviceRegistry } from "../../identity/index.js";
import { siteFilter, type Principal } from "../../operators/index.js";
import { INCIDENT_STATES, measuresOf, parsePlaybooks, type Incident, type ResponseService } from "../../response/index.js";

const IdParams = z.object({ id: z.string().min(1).max(128) });
const principalOf = (request: { principal?: Principal }) => request.principal as Principal;
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

function dto(i: Incident, withTimeline: boolean): IncidentDto {
  const m = measuresOf(i);
  return {
    id: i.id,
    device: i.device,
    state: i.state,
    severity: i.severity,
    rules: [...i.rules],
    categories: [...i.categories],
    evidenceCount: i.evidenceCount,
    firstEvidenceAt: iso(i.firstEvidenceAt),
    lastEvidenceAt: iso(i.lastEvidenceAt),
    openedAt: iso(i.openedAt),
    containedAt: isoOrNull(i.containedAt),
    recoveringAt: isoOrNull(i.recoveringAt),
    resolvedAt: isoOrNull(i.resolvedAt),
    closedAt: isoOrNull(i.closedAt),
    playbooks: [...i.playbooks],
    mitigation:
      i.mitigation === null ? null : { ...i.mitigation, since: iso(i.mitigation.since), until: isoOrNull(i.mitigation.until) },
    approval:
      i.approval === null
        ? null
        : {
            id: i.approval.id,
            playbook: i.approval.playbook,
            actions: i.approval.actions.map((a) => (a as { type: string }).type),
            requestedAt: iso(i.approval.requestedAt),
            expiresAt: iso(i.approval.expiresAt),
            onTimeout: i.approval.onTimeout,
            reason: i.approval.reason,
          },
    measures: { mttdMs: m.mttd, timeToContainMs: m.timeToContain, mttrMs: m.mttr },
    timeline: withTimeline ? i.timeline.map((e) => ({ ...e, at: iso(e.at) })) : [],
    drill: i.drill ?? null,
  };
}

/** Incidents (read: incidents:read; acting on them: incidents:write) and playbooks. */
export const incidentRoutes: FastifyPluginAsyncZod<{ response: ResponseService; devices: DeviceRegistry }> = async (
  app,
  deps,
) => {
  /** The incident, if its device is in the operator's sites (else INCIDENT_NOT_FOUND, like a missing one). */
  async function visible(request: { principal?: Principal }, id: string): Promise<Incident> {
    const inc = await deps.response.get(id);
    if (inc !== undefined) {
      try {
        await deps.devices.get(inc.device, siteFilter(principalOf(request).sites));
        return inc;
      } catch (error) {
        if (!isVigilError(error, "DEVICE_NOT_FOUND")) throw error;
      }
    }
    throw new VigilError("INCIDENT_NOT_FOUND", `no incident ${id}`);
  }

  app.get(
    "/incidents",
    {
      config: { permission: "incidents:read" },
      schema: {
        tags: ["incidents"],
        summary: "Incidents, newest first (without their timelines).",
        querystring: z
          .object({
            state: z.enum(INCIDENT_STATES).optional(),
            device: z.string().min(1).max(256).optional(),
            limit: z.coerce.number().int().min(1).max(500).default(50),
          })
          .strict(),
        response: { 200: IncidentListDto, ...errors },
      },
    },
    async (request) => {
      const sites = siteFilter(principalOf(request).sites);
      const items = await deps.response.list(request.query);
      const shown: Incident[] = [];
      for (const i of items) {
        try {
          await deps.devices.get(i.device, sites);
          shown.push(i);
        } catch (error) {
          if (!isVigilError(error, "DEVICE_NOT_FOUND")) throw error;
        }
      }
      return { items: shown.map((i) => dto(i, false)) };
    },
  );

  app.get(
    "/incidents/measures",
    {
      config: { permission: "incidents:read" },
      schema: {
        tags: ["incidents"],
        summary: "MTTD, time to contain and MTTR over the fleet's incidents (ms): count, mean, median, max.",
        response: {
          200: IncidentFleetMeasuresDto,
          ...errors,
        },
      },
    },
    async () => deps.response.measures(),
  );

  app.get(
    "/incidents/:id",
    {
      config: { permission: "incidents:read" },
      schema: {
        tags: ["incidents"],
        summary: "One incident with its timeline and measures.",
        params: IdParams,
        response: { 200: IncidentDto, ...errors },
      },
    },
    async (request) => dto(await visible(request, request.params.id), true),
  );

  app.post(
    "/incidents/:id/notes",
    {
      config: { permission: "incidents:write" },
      schema: {
        tags: ["incidents"],
        summary: "Adds an operator's note to the incident's timeline.",
        params: IdParams,
        body: z.object({ text: z.string().min(1).max(4000) }).strict(),
        response: { 200: IncidentDto, ...errors },
      },
    },
    async (request) => {
      await visible(request, request.params.id);
      return dto(await deps.response.note(request.params.id, request.body.text, principalOf(request).username), true);
    },
  );

  for (const [path, summary, act] of [
    [
      "approve",
      "Approves the incident's pending disruptive actions: they run now, in order.",
      (id: string, by: string) => deps.response.decide(id, "approved", by),
    ],
    [
      "deny",
      "Denies the incident's pending disruptive actions: they are skipped.",
      (id: string, by: string) => deps.response.decide(id, "denied", by),
    ],
    [
      "release",
      "Lifts the incident's mitigation (quarantine, throttle): the device gets its own tier back.",
      (id: string, by: string) => deps.response.release(id, by),
    ],
    [
      "readmit",
      "Rolls a revocation back: the device may enrol again through the door (attestation, a new key).",
      (id: string, by: string) => deps.response.readmit(id, by),
    ],
    ["resolve", "Marks the incident resolved.", (id: string, by: string) => deps.response.transition(id, "resolved", by)],
    [
      "close",
      "Closes the incident (lifting any mitigation still in force).",
      (id: string, by: string) => deps.response.transition(id, "closed", by),
    ],
  ] as const) {
    app.post(
      `/incidents/:id/${path}`,
      {
        config: { permission: "incidents:write" },
        schema: { tags: ["incidents"], summary, params: IdParams, response: { 200: IncidentDto, ...errors } },
      },
      async (request) => {
        await visible(request, request.params.id);
        return dto(await act(request.params.id, principalOf(request).username), true);
      },
    );
  }

  app.get(
    "/playbooks",
    {
      config: { permission: "incidents:read" },
      schema: {
        tags: ["incidents"],
        summary: "The playbooks in force, in the order they are tried.",
        response: { 200: PlaybookListDto, ...errors },
      },
    },
    async () => ({ items: deps.response.playbooks.map((p) => ({ ...p })) }),
  );

  app.post(
    "/playbooks/validate",
    {
      config: { permission: "incidents:read" },
      schema: {
        tags: ["incidents"],
        summary: "Validates playbooks (YAML or JSON text); PLAYBOOK_INVALID lists every problem.",
        body: z.object({ text: z.string().min(1).max(1_000_000), source: z.string().max(200).optional() }).strict(),
        response: { 200: PlaybookValidationDto, ...errors },
      },
    },
    async (request) => ({ playbooks: parsePlaybooks(request.body.text, request.body.source ?? "playbooks").map((p) => p.id) }),
  );
};
