import { z } from "zod";

/**
 * Incident response wire formats, shared by the server's `/api/v1/incidents` routes, the CLI and
 * the console: incidents with their timelines and measures, and the events Vigil sends out about
 * them (webhooks, syslog/CEF, the JSON event stream). Fields are added, never renamed or removed.
 */

export const INCIDENT_STATE_VALUES = ["open", "contained", "recovering", "resolved", "closed"] as const;

export const IncidentTimelineEntryDto = z.object({
  at: z.string().describe("ISO 8601"),
  kind: z.string().describe("evidence, action, state, note or approval"),
  summary: z.string(),
  ref: z.string().nullable().describe("a finding id, an action name, an approval id"),
  by: z.string().describe("system, a playbook id, or an operator"),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type IncidentTimelineEntryDto = z.infer<typeof IncidentTimelineEntryDto>;

export const IncidentMitigationDto = z.object({
  kind: z.string().describe("quarantine, throttle, deny or revoke"),
  tier: z.string(),
  since: z.string(),
  until: z.string().nullable(),
  releaseOn: z.string().describe("expiry, operator, reattestation or patched"),
});
export type IncidentMitigationDto = z.infer<typeof IncidentMitigationDto>;

export const IncidentApprovalDto = z.object({
  id: z.string(),
  playbook: z.string(),
  actions: z.array(z.string()),
  requestedAt: z.string(),
  expiresAt: z.string(),
  onTimeout: z.string(),
  reason: z.string(),
});
export type IncidentApprovalDto = z.infer<typeof IncidentApprovalDto>;

export const IncidentMeasuresDto = z.object({
  mttdMs: z.number(),
  timeToContainMs: z.number().nullable(),
  mttrMs: z.number().nullable(),
});
export type IncidentMeasuresDto = z.infer<typeof IncidentMeasuresDto>;

export const IncidentDto = z.object({
  id: z.string(),
  device: z.string(),
  state: z.enum(INCIDENT_STATE_VALUES),
  severity: z.string(),
  rules: z.array(z.string()),
  categories: z.array(z.string()),
  evidenceCount: z.number(),
  firstEvidenceAt: z.string(),
  lastEvidenceAt: z.string(),
  openedAt: z.string(),
  containedAt: z.string().nullable(),
  recoveringAt: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  closedAt: z.string().nullable(),
  playbooks: z.array(z.string()),
  mitigation: IncidentMitigationDto.nullable(),
  approval: IncidentApprovalDto.nullable(),
  measures: IncidentMeasuresDto,
  timeline: z.array(IncidentTimelineEntryDto),
  /** The drill's id when the incident is part of an exercise (`vigil drill`), else null. */
  drill: z.string().nullable().optional(),
});
export type IncidentDto = z.infer<typeof IncidentDto>;

export const IncidentListDto = z.object({ items: z.array(IncidentDto) });
export type IncidentListDto = z.infer<typeof IncidentListDto>;

export const IncidentAggregateDto = z.object({
  count: z.number(),
  mean: z.number().nullable(),
  median: z.number().nullable(),
  max: z.number().nullable(),
});
export type IncidentAggregateDto = z.infer<typeof IncidentAggregateDto>;

export const IncidentFleetMeasuresDto = z.object({
  incidents: z.number(),
  mttd: IncidentAggregateDto,
  timeToContain: IncidentAggregateDto,
  mttr: IncidentAggregateDto,
});
export type IncidentFleetMeasuresDto = z.infer<typeof IncidentFleetMeasuresDto>;

export const PlaybookListDto = z.object({ items: z.array(z.record(z.string(), z.unknown())) });
export type PlaybookListDto = z.infer<typeof PlaybookListDto>;

export const PlaybookValidationDto = z.object({ playbooks: z.array(z.string()) });
export type PlaybookValidationDto = z.infer<typeof PlaybookValidationDto>;

/** Every `type` an outgoing response event can have. */
export const RESPONSE_EVENT_TYPES = [
  "incident.opened",
  "incident.state_changed",
  "incident.action",
  "incident.approval_requested",
  "incident.notified",
] as const;

/**
 * One outgoing event (`vigil.response.v1`): the body of a webhook, one line of the JSON event
 * stream, the `msg` of a syslog/CEF record's `vigilEvent` extension. docs/events.md is generated
 * from this schema (`npm run docs`).
 */
export const ResponseEventDto = z.object({
  schema: z.literal("vigil.response.v1").describe("the schema's name and version"),
  id: z.string().describe("unique per event; also the webhook's X-Vigil-Delivery"),
  type: z.enum(RESPONSE_EVENT_TYPES).describe("what happened"),
  at: z.string().describe("ISO 8601, when it happened"),
  incident: z
    .object({
      id: z.string(),
      device: z.string(),
      state: z.enum(INCIDENT_STATE_VALUES),
      severity: z.enum(["low", "medium", "high", "critical"]),
      rules: z.array(z.string()),
      categories: z.array(z.string()),
      openedAt: z.string(),
      drill: z.string().optional().describe("the drill's id when the incident is part of an exercise"),
    })
    .describe("the incident as it is after the event"),
  detail: z
    .record(z.string(), z.unknown())
    .describe(
      "incident.opened: {rule, evidence}; incident.state_changed: {from, to, reason, by}; incident.action: {action, outcome, detail, by}; incident.approval_requested: {approval, actions, expiresAt}; incident.notified: {note, timeline}",
    ),
});
export type ResponseEventDto = z.infer<typeof ResponseEventDto>;
