import { useEffect, useState } from "preact/hooks";

/** One signal from the server's live stream (GET /api/v1/events/stream). */
export interface LiveEvent {
  readonly seq: number;
  readonly name: string;
  readonly at: string;
  readonly payload: Record<string, unknown>;
  /** When this page received it (browser clock; `at` is the server's). */
  readonly receivedAt: number;
}

export type LiveState = "connecting" | "live" | "ended" | "unavailable";

type Listener = (e: LiveEvent) => void;
const RECENT = 200;

/**
 * One EventSource for the whole page. Listeners get each event as it arrives; the last
 * events are kept for pages opened later. The browser reconnects by itself after a network
 * error; an `end` event (logout, expiry) closes it for good.
 */
class LiveStream {
  #source: EventSource | undefined;
  #listeners = new Set<Listener>();
  #stateListeners = new Set<(s: LiveState) => void>();
  recent: LiveEvent[] = [];
  state: LiveState = "connecting";
  endReason = "";
  skipped = 0;

  start(): void {
    if (this.#source !== undefined) return;
    const source = new EventSource("/api/v1/events/stream");
    this.#source = source;
    this.#setState("connecting");
    source.onopen = () => this.#setState("live");
    source.onerror = () => {
      // CLOSED: the server refused (401/403); otherwise the browser retries by itself.
      this.#setState(source.readyState === EventSource.CLOSED ? "unavailable" : "connecting");
    };
    source.addEventListener("signal", (m: MessageEvent<string>) => {
      const data = JSON.parse(m.data) as { name: string; at: string; payload: Record<string, unknown> };
      const event: LiveEvent = { seq: Number(m.lastEventId), ...data, receivedAt: Date.now() };
      this.recent = [event, ...this.recent].slice(0, RECENT);
      for (const l of this.#listeners) l(event);
    });
    source.addEventListener("skipped", (m: MessageEvent<string>) => {
      this.skipped += (JSON.parse(m.data) as { count: number }).count;
    });
    source.addEventListener("end", (m: MessageEvent<string>) => {
      this.endReason = (JSON.parse(m.data) as { reason: string }).reason;
      this.stop();
      this.#setState("ended");
    });
  }

  stop(): void {
    this.#source?.close();
    this.#source = undefined;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onState(listener: (s: LiveState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  #setState(state: LiveState): void {
    this.state = state;
    for (const l of this.#stateListeners) l(state);
  }
}

export const live = new LiveStream();

/** Calls `onEvent` for each live event whose name matches (a prefix ending with "." matches a family). */
export function useLiveEvents(names: readonly string[], onEvent: (e: LiveEvent) => void): void {
  useEffect(
    () =>
      live.subscribe((e) => {
        if (names.some((n) => (n.endsWith(".") ? e.name.startsWith(n) : e.name === n))) onEvent(e);
      }),
    [names.join(","), onEvent],
  );
}

/** The recent events, re-rendered as new ones arrive (at most every 250 ms). */
export function useRecentEvents(): readonly LiveEvent[] {
  const [events, setEvents] = useState(live.recent);
  useEffect(() => {
    let timer: number | undefined;
    const off = live.subscribe(() => {
      timer ??= window.setTimeout(() => {
        timer = undefined;
        setEvents(live.recent);
      }, 250);
    });
    return () => {
      off();
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, []);
  return events;
}

export function useLiveState(): LiveState {
  const [state, setState] = useState(live.state);
  useEffect(() => live.onState(setState), []);
  return state;
}

/** A short human sentence for an event. */
export function describe(e: LiveEvent): string {
  const p = e.payload;
  const s = (k: string) => (typeof p[k] === "string" || typeof p[k] === "number" ? String(p[k]) : "");
  switch (e.name) {
    case "enrollment.completed":
      return `${s("device")} enrolled (${s("method")}, profile ${s("profile") || "none"})`;
    case "device.registered":
      return `${s("device")} registered by ${s("by")}`;
    case "gateway.connected":
      return `${s("device")} connected (tier ${s("tier")})`;
    case "gateway.disconnected":
      return `${s("device")} disconnected: ${s("reason")}`;
    case "gateway.denied":
      return `${s("device")}: ${s("action")} to ${s("topic")} denied (${s("reason")})`;
    case "gateway.throttled":
      return `${s("device")} throttled on ${s("topic")} (${s("dropped")} dropped)`;
    case "gateway.connect_refused":
      return `connection refused${s("device") ? ` for ${s("device")}` : ""}: ${s("reason")}`;
    case "trust.changed":
      return `${s("device")}: trust ${s("from") || "new"} → ${s("to")} (score ${s("score")})`;
    case "finding.raised":
      return `${s("device")}: ${s("rule")} (${s("severity")})`;
    case "incident.opened":
      return `incident ${s("incident")} opened for ${s("device")} (${s("rule")})`;
    case "incident.state_changed":
      return `incident ${s("incident")}: ${s("from")} → ${s("to")}`;
    case "response.action_taken":
      return `${s("action")} on ${s("device")}: ${s("outcome")}`;
    case "response.approval_requested":
      return `approval needed for ${s("device")}: ${Array.isArray(p.actions) ? p.actions.join(", ") : ""}`;
    case "identity.issued":
      return `${s("device")}: certificate ${s("serial").slice(0, 12)}… issued${p.renewal === true ? " (renewal)" : ""}`;
    case "identity.revoked":
      return `${s("device")}: certificates revoked by ${s("by")} (${s("reason")})`;
    case "gateway.policy_changed":
      return `${s("device")}: policy at the gateway ${s("from")} → ${s("to")} (${s("reason")})`;
    case "identity.cloned_suspected":
      return `${s("device")}: the same identity connected from two places`;
    case "report.generated":
      return `compliance report generated (${s("format")}) by ${s("by")}`;
    case "vulnerability.found":
      return `${s("device")}: vulnerable to ${s("advisoryId")} (${s("severity")})`;
    case "vulnerability.resolved":
      return `${s("device")}: ${s("advisoryId")} resolved`;
    case "response.approval_decided":
      return `approval for ${s("device")}: ${s("decision")} by ${s("by")}`;
    case "campaign.created":
      return `campaign ${s("name")} created (${s("devices")} devices, ${s("waves")} waves)`;
    case "campaign.halted":
      return `campaign ${s("campaign")} halted at wave ${s("wave")} (${s("reason")})`;
    case "campaign.completed":
      return `campaign ${s("campaign")} completed: ${s("installed")} installed, ${s("failed")} failed`;
    case "campaign.wave_started":
      return `campaign ${s("campaign")}: wave ${s("wave")} started (${s("devices")} devices)`;
    case "ota.installed":
      return `${s("device")} installed ${s("version")}`;
    case "ota.failed":
      return `${s("device")} failed to install ${s("version")}: ${s("reason")}`;
    default:
      return [s("device"), s("campaign"), s("incident")].filter(Boolean).join(" ") || e.name;
  }
}
