/**
 * The stable schema of every event Vigil sends out about incidents (webhooks, the JSON-lines
 * SIEM file). `schema` names the version; fields are added, never renamed or removed.
 * docs/response.md documents it.
 */
export interface OutgoingEvent {
  readonly schema: "vigil.response.v1";
  /** Unique per event (also the webhook's `X-Vigil-Delivery`). */
  readonly id: string;
  /** `incident.opened`, `incident.updated`, `incident.state_changed`, `incident.action`, `incident.approval_requested`, `incident.notified`. */
  readonly type: string;
  /** ISO 8601. */
  readonly at: string;
  readonly incident: {
    readonly id: string;
    readonly device: string;
    readonly state: string;
    readonly severity: string;
    readonly rules: readonly string[];
    readonly categories: readonly string[];
    readonly openedAt: string;
    /** The drill's id when the incident is part of an exercise, not a real attack. */
    readonly drill?: string;
  };
  /** What happened, for `incident.action` and `incident.state_changed`. */
  readonly detail: Readonly<Record<string, unknown>>;
}

/** Port: where outgoing events go (webhook, file). Never throws; failures are the sink's to record. */
export interface EventSink {
  readonly name: string;
  send(event: OutgoingEvent): void;
  /** Resolves when everything queued has been delivered or dead-lettered. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}
