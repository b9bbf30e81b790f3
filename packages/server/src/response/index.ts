// The response module's front door: incidents, playbooks, notifications.
export {
  INCIDENT_STATES,
  aggregateMeasures,
  canMove,
  isActive,
  measuresOf,
  type AggregateMeasure,
  type Incident,
  type IncidentMeasures,
  type IncidentSeverity,
  type IncidentState,
  type Mitigation,
  type PendingApproval,
  type TimelineEntry,
} from "./incident.js";
export {
  DISRUPTIVE,
  actionSchema,
  defaultPlaybooks,
  matches,
  parsePlaybooks,
  playbookSchema,
  type ActionType,
  type MatchInput,
  type Playbook,
  type PlaybookAction,
} from "./playbook.js";
export type { EventSink, OutgoingEvent } from "./outgoing-event.js";
export {
  MemoryDeadLetters,
  WebhookSink,
  signWebhook,
  type DeadLetter,
  type DeadLetterRepository,
  type WebhookSinkOptions,
} from "./webhook-sink.js";
export { JsonLinesSink } from "./json-lines-sink.js";
export { SyslogSink, cefHeader, cefValue, toCef, toSyslog, type SyslogSinkOptions } from "./syslog-sink.js";
export { renderEventsDoc } from "./events-doc.js";
export type {
  ControlChannel,
  DeviceReadmitter,
  DeviceRevoker,
  DeviceSessions,
  FirmwareRollback,
  IncidentRepository,
  ReprovisionTokens,
} from "./ports.js";
export { gatewayControlChannel, type CommandGateway } from "./control-channel.js";
export { MemoryIncidentRepository } from "./memory-incident-repository.js";
export { RESPONSE_DEFAULTS, responseConfigSchema, type ResponseConfig } from "./response-config.js";
export { ResponseService, type ResponseServiceDeps } from "./response-service.js";
export { responsePlaybooks, responseSinks } from "./response-setup.js";
