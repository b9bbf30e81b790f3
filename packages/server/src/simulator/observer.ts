import type { EventBus } from "../core/index.js";
import { hostOfEndpoint } from "../detection/index.js";
import type { SignalMap, SignalName } from "../signals/index.js";

/** One security signal as the simulator saw it, reduced to what the report needs. */
export interface ObservedSignal {
  readonly at: number;
  readonly name: SignalName;
  /** The device it is about (null for refusals before an identity is known). */
  readonly device: string | null;
  readonly reason: string;
  /** For `gateway.throttled`: messages dropped since the previous signal. */
  readonly dropped: number;
  readonly remote: string | null;
  /** For `finding.raised`: the detector rule. */
  readonly rule: string | null;
}

/** What the simulator listens to: the gateway's enforcement, identity and enrollment alarms, findings. */
export const OBSERVED_SIGNALS = [
  "gateway.connected",
  "gateway.denied",
  "gateway.throttled",
  "gateway.disconnected",
  "gateway.connect_refused",
  "identity.cloned_suspected",
  "enrollment.token_replayed",
  "enrollment.failed",
  "finding.raised",
  "trust.changed",
  "gateway.policy_changed",
  "ota.failed",
  "ota.refused",
  "network.anomaly_detected",
] as const satisfies readonly SignalName[];

/** At most this many signals are kept (a long run keeps the first ones and counts the rest). */
const MAX_KEPT = 200_000;

/**
 * Records the signals of an in-process Vigil (embedded mode) so that a run can be reported:
 * what the gateway denied, throttled and cut, and what detection raised, per device.
 */
export class SignalObserver {
  readonly signals: ObservedSignal[] = [];
  overflow = 0;
  readonly #offs: (() => void)[] = [];
  readonly #now: () => number;

  constructor(bus: EventBus<SignalMap>, now: () => number = Date.now) {
    this.#now = now;
    for (const name of OBSERVED_SIGNALS) this.#offs.push(bus.on(name, (payload) => this.#record(name, payload)));
  }

  stop(): void {
    for (const off of this.#offs.splice(0)) off();
  }

  of(name: SignalName, device?: string): ObservedSignal[] {
    return this.signals.filter((s) => s.name === name && (device === undefined || s.device === device));
  }

  #record(name: SignalName, payload: SignalMap[SignalName]): void {
    if (this.signals.length >= MAX_KEPT) {
      this.overflow++;
      return;
    }
    this.signals.push(toObserved(name, payload, this.#now()));
  }
}

/** Reduces a signal's payload (from the bus, or from an audit entry's details) to what the report needs. */
export function toObserved(name: SignalName, payload: unknown, at: number): ObservedSignal {
  const p = (typeof payload === "object" && payload !== null ? payload : {}) as Partial<Record<string, unknown>>;
  const str = (k: string): string | null => (typeof p[k] === "string" ? p[k] : null);
  const remotes = Array.isArray(p.remotes) ? (p.remotes as unknown[]).filter((r): r is string => typeof r === "string") : [];
  const reason =
    name === "finding.raised"
      ? `${str("rule") ?? ""} (${str("severity") ?? ""})`
      : (str("reason") ?? str("code") ?? (name === "identity.cloned_suspected" ? `remotes ${remotes.join(", ")}` : ""));
  return {
    at,
    name,
    // Packet analysis knows addresses, not devices: `ip:<src>` (scenarios list it among their actors).
    device:
      str("device") ??
      (name === "network.anomaly_detected" && str("src") !== null ? `ip:${hostOfEndpoint(str("src") ?? "")}` : null),
    reason,
    dropped: typeof p.dropped === "number" ? p.dropped : 0,
    remote: str("remote") ?? remotes[0] ?? null,
    rule: str("rule"),
  };
}

/**
 * Follows a running Vigil's audit log through its API (every signal is audited) for the
 * signals the simulator reports on: what `vigil simulate` and `vigil drill` use when Vigil
 * runs in another process. `fetchPage(after)` is `GET /api/v1/audit?after=...&limit=1000`.
 */
export class AuditFollower {
  readonly signals: ObservedSignal[] = [];
  readonly #fetchPage: (after: number) => Promise<AuditPage>;
  #cursor = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;

  constructor(fetchPage: (after: number) => Promise<AuditPage>) {
    this.#fetchPage = fetchPage;
  }

  /** Starts from the log's current head (earlier entries are not part of this run). */
  async start(intervalMs = 1_000): Promise<void> {
    this.#cursor = (await this.#fetchPage(0)).head;
    this.#timer = setInterval(() => {
      this.#polling ??= this.poll()
        .catch(() => undefined)
        .finally(() => (this.#polling = undefined));
    }, intervalMs);
  }

  /** Reads what was appended since the last poll (at most 50 pages of 1,000 at a time). */
  async poll(): Promise<void> {
    for (let page = 0; page < 50; page++) {
      const { items, next } = await this.#fetchPage(this.#cursor);
      for (const entry of items) {
        this.#cursor = Math.max(this.#cursor, entry.seq);
        if ((OBSERVED_SIGNALS as readonly string[]).includes(entry.action) && this.signals.length < MAX_KEPT)
          this.signals.push(toObserved(entry.action as SignalName, entry.details, Date.parse(entry.at)));
      }
      if (next === null || items.length === 0) return;
    }
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#polling;
    await this.poll().catch(() => undefined);
  }
}

export interface AuditPage {
  readonly items: readonly { seq: number; at: string; action: string; details: unknown }[];
  readonly next: number | null;
  readonly head: number;
}
