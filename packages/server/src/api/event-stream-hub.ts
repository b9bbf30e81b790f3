import type { ServerResponse } from "node:http";
import type { Clock, Logger } from "../core/index.js";
import type { Permission } from "../operators/index.js";
import type { SignalBus, SignalMap, SignalName } from "../signals/index.js";

/**
 * Who may see a streamed signal: the permission it needs, and how its site is decided.
 * `device`: the site of the device it names (a site-bound operator sees only its sites'
 * devices, as in the device list); `fleet`: not about one device (campaigns, reports);
 * `global`: about the network rather than a device (assets): all-sites operators only.
 */
interface StreamRule {
  readonly permission: Permission;
  readonly scope: "device" | "fleet" | "global";
}

const device = (permission: Permission): StreamRule => ({ permission, scope: "device" });
const fleet = (permission: Permission): StreamRule => ({ permission, scope: "fleet" });

/** The signals the console's live stream carries; anything else (auth, keys, tokens) never leaves the server this way. */
export const STREAMED_SIGNALS: Partial<Record<SignalName, StreamRule>> = {
  "device.registered": device("devices:read"),
  "enrollment.completed": device("devices:read"),
  "identity.issued": device("devices:read"),
  "identity.revoked": device("devices:read"),
  "gateway.connected": device("devices:read"),
  "gateway.disconnected": device("devices:read"),
  "gateway.connect_refused": device("incidents:read"),
  "gateway.denied": device("incidents:read"),
  "gateway.throttled": device("incidents:read"),
  "gateway.policy_changed": device("devices:read"),
  "identity.cloned_suspected": device("incidents:read"),
  "trust.changed": device("incidents:read"),
  "finding.raised": device("incidents:read"),
  "incident.opened": device("incidents:read"),
  "incident.state_changed": device("incidents:read"),
  "incident.noted": device("incidents:read"),
  "response.action_taken": device("incidents:read"),
  "response.approval_requested": device("incidents:read"),
  "response.approval_decided": device("incidents:read"),
  "vulnerability.found": device("audit:read"),
  "vulnerability.resolved": device("audit:read"),
  "ota.installed": device("firmware:read"),
  "ota.failed": device("firmware:read"),
  "ota.rolled_back": device("firmware:read"),
  "ota.refused": device("incidents:read"),
  "ota.artifact_added": fleet("firmware:read"),
  "campaign.created": fleet("firmware:read"),
  "campaign.started": fleet("firmware:read"),
  "campaign.paused": fleet("firmware:read"),
  "campaign.resumed": fleet("firmware:read"),
  "campaign.wave_started": fleet("firmware:read"),
  "campaign.halted": fleet("firmware:read"),
  "campaign.rollback_started": fleet("firmware:read"),
  "campaign.rolled_back": fleet("firmware:read"),
  "campaign.completed": fleet("firmware:read"),
  "campaign.cancelled": fleet("firmware:read"),
  "report.generated": fleet("audit:read"),
  "assessment.checks_completed": fleet("audit:read"),
  "asset.discovered": { permission: "incidents:read", scope: "global" },
  "asset.identified": { permission: "incidents:read", scope: "global" },
  "network.anomaly_detected": { permission: "incidents:read", scope: "global" },
};

export interface StreamLimits {
  /** A client whose unsent bytes exceed this is dropped (a slow reader must not grow the server's memory). */
  readonly maxBufferedBytes: number;
  /** Events per second per client (token bucket); the excess is counted and reported as `skipped`. */
  readonly ratePerSecond: number;
  readonly burst: number;
  /** A comment line this often keeps proxies from closing an idle stream; credentials are re-checked then too. */
  readonly heartbeatMs: number;
  /** Concurrent streams over all operators. */
  readonly maxClients: number;
  /** Device -> site lookups held. */
  readonly siteCacheSize: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxBufferedBytes: 512 * 1024,
  ratePerSecond: 500,
  burst: 1000,
  heartbeatMs: 15_000,
  maxClients: 200,
  siteCacheSize: 50_000,
};

/** What a stream needs to know about its reader. */
export interface StreamReader {
  readonly username: string;
  /** The token or session id (closing or revoking it ends the stream). */
  readonly credentialId: string;
  readonly sites: readonly string[] | undefined;
  readonly may: (permission: Permission) => boolean;
  /** Still valid? Called at each heartbeat; a reason ends the stream. */
  readonly check: () => Promise<string | undefined>;
}

export interface EventStreamHubDeps {
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  /** The site of a device, or undefined if there is none. */
  readonly siteOf: (device: string) => Promise<string | undefined>;
  readonly limits?: Partial<StreamLimits>;
}

interface Client {
  readonly reader: StreamReader;
  readonly res: ServerResponse;
  tokens: number;
  refilledAt: number;
  skipped: number;
  closed: boolean;
}

/**
 * Fans the signal bus out to the console's server-sent-event streams (WHATWG HTML §9.2).
 * Subscribes to the bus only while a client is connected. Events reach a client in bus
 * order, filtered by its permissions and sites; a client that reads too slowly is dropped,
 * never buffered without bound.
 */
export class EventStreamHub {
  readonly #d: EventStreamHubDeps;
  readonly limits: StreamLimits;
  readonly #clients = new Set<Client>();
  readonly #sites = new Map<string, string | null>();
  #off: (() => void) | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Events waiting for a device's site to be looked up (delivery stays in bus order). */
  #chain: Promise<void> = Promise.resolve();
  #waiting = 0;
  #seq = 0;
  /** Connected readers bound to sites. */
  #siteBound = 0;
  dropped = 0;

  constructor(deps: EventStreamHubDeps) {
    this.#d = deps;
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...deps.limits };
  }

  get clients(): number {
    return this.#clients.size;
  }

  get full(): boolean {
    return this.#clients.size >= this.limits.maxClients;
  }

  /** Starts streaming to `res` (headers already decided by the caller); returns when it ends. */
  attach(reader: StreamReader, res: ServerResponse): Promise<void> {
    const client: Client = { reader, res, tokens: this.limits.burst, refilledAt: this.#d.clock.now(), skipped: 0, closed: false };
    this.#clients.add(client);
    if (reader.sites !== undefined) this.#siteBound++;
    if (this.#off === undefined) this.#subscribe();
    res.write(`retry: 5000\n: vigil event stream for ${reader.username}\n\n`);
    return new Promise((resolve) => {
      const done = () => {
        client.closed = true;
        if (this.#clients.delete(client) && reader.sites !== undefined) this.#siteBound--;
        if (this.#clients.size === 0) this.#unsubscribe();
        resolve();
      };
      res.on("close", done);
      res.on("error", done);
    });
  }

  /** Ends every stream of a credential (logout, revocation) or of an operator (disabled, factors reset). */
  end(match: { credentialId?: string; username?: string }, reason: string): void {
    for (const c of this.#clients) {
      if (
        (match.credentialId !== undefined && c.reader.credentialId === match.credentialId) ||
        (match.username !== undefined && c.reader.username === match.username)
      ) {
        this.#close(c, reason);
      }
    }
  }

  /** Ends every stream (the server is stopping). */
  endAll(reason: string): void {
    for (const c of this.#clients) this.#close(c, reason);
  }

  #subscribe(): void {
    const { bus } = this.#d;
    const offs = [
      bus.onAny((name, payload) => this.#onSignal(name, payload)),
      bus.on("session.closed", (e) => this.end({ credentialId: e.sessionId }, "the session was closed (logout)")),
      bus.on("token.revoked", (e) => this.end({ credentialId: e.tokenId }, "the token was revoked")),
      bus.on("operator.disabled", (e) => this.end({ username: e.operator }, "the operator was disabled")),
      bus.on("operator.mfa_reset", (e) => this.end({ username: e.operator }, "the operator's second factors were reset")),
    ];
    this.#off = () => offs.forEach((off) => off());
    this.#heartbeat = setInterval(() => void this.#beat(), this.limits.heartbeatMs);
    this.#heartbeat.unref();
  }

  #unsubscribe(): void {
    this.#off?.();
    this.#off = undefined;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  async #beat(): Promise<void> {
    for (const c of [...this.#clients]) {
      let reason: string | undefined;
      try {
        reason = await c.reader.check();
      } catch (error) {
        reason = "the credential could not be checked";
        this.#d.log.warn({ err: error, operator: c.reader.username }, "event stream credential check failed");
      }
      if (reason !== undefined) this.#close(c, reason);
      else if (!c.closed) {
        if (c.skipped > 0) this.#skippedNotice(c);
        this.#write(c, `: heartbeat ${new Date(this.#d.clock.now()).toISOString()}\n\n`);
      }
    }
  }

  #onSignal(name: SignalName, payload: SignalMap[SignalName]): void {
    const rule = STREAMED_SIGNALS[name];
    if (rule === undefined) return;
    const deviceId = rule.scope === "device" ? (payload as { device?: unknown }).device : undefined;
    const id = ++this.#seq;
    const at = this.#d.clock.now();
    // Only a site-bound reader needs the device's site: without one, no lookup at all.
    const needsSite = typeof deviceId === "string" && this.#siteBound > 0;
    if (!needsSite || (this.#waiting === 0 && this.#sites.has(deviceId))) {
      this.#dispatch(id, at, name, rule, payload, typeof deviceId === "string" ? this.#sites.get(deviceId) : undefined);
      return;
    }
    if (typeof deviceId !== "string") return;
    // A site lookup is needed (or earlier events still wait for theirs): keep bus order.
    if (this.#waiting >= this.limits.siteCacheSize) {
      this.dropped++;
      return;
    }
    this.#waiting++;
    this.#chain = this.#chain
      .then(async () => {
        const site = await this.#site(deviceId);
        this.#dispatch(id, at, name, rule, payload, site);
      })
      .catch((error: unknown) => this.#d.log.warn({ err: error, signal: name }, "event stream delivery failed"))
      .finally(() => {
        this.#waiting--;
      });
  }

  async #site(deviceId: string): Promise<string | null> {
    const known = this.#sites.get(deviceId);
    if (known !== undefined) return known;
    const site = (await this.#d.siteOf(deviceId)) ?? null;
    if (this.#sites.size >= this.limits.siteCacheSize) {
      const oldest = this.#sites.keys().next();
      if (oldest.done !== true) this.#sites.delete(oldest.value);
    }
    // A device that does not exist (yet) is not cached: it may be registered next.
    if (site !== null) this.#sites.set(deviceId, site);
    return site;
  }

  #dispatch(id: number, at: number, name: SignalName, rule: StreamRule, payload: unknown, site: string | null | undefined): void {
    let frame: string | undefined;
    for (const c of this.#clients) {
      if (c.closed || !c.reader.may(rule.permission)) continue;
      const sites = c.reader.sites;
      if (sites !== undefined) {
        if (rule.scope === "global") continue;
        if (rule.scope === "device" && (site === null || site === undefined || !sites.includes(site))) continue;
      }
      if (!this.#take(c)) {
        c.skipped++;
        continue;
      }
      frame ??= `id: ${id}\nevent: signal\ndata: ${JSON.stringify({ name, at: new Date(at).toISOString(), payload })}\n\n`;
      this.#write(c, frame);
    }
  }

  /** Token bucket per client. */
  #take(c: Client): boolean {
    const now = this.#d.clock.now();
    const elapsed = Math.max(0, now - c.refilledAt);
    c.tokens = Math.min(this.limits.burst, c.tokens + (elapsed * this.limits.ratePerSecond) / 1000);
    c.refilledAt = now;
    if (c.tokens < 1) return false;
    c.tokens -= 1;
    return true;
  }

  #skippedNotice(c: Client): void {
    this.#write(c, `event: skipped\ndata: ${JSON.stringify({ count: c.skipped })}\n\n`);
    c.skipped = 0;
  }

  #write(c: Client, frame: string): void {
    if (c.closed) return;
    if (c.res.writableLength > this.limits.maxBufferedBytes) {
      this.dropped++;
      this.#d.log.warn(
        { operator: c.reader.username, bufferedBytes: c.res.writableLength },
        "event stream client too slow: dropped",
      );
      c.closed = true;
      c.res.destroy();
      return;
    }
    c.res.write(frame);
  }

  #close(c: Client, reason: string): void {
    if (c.closed) return;
    c.res.write(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
    c.closed = true;
    c.res.end();
  }
}
