import { Redis } from "ioredis";
import type { Logger } from "../core/index.js";
import type { SignalBus } from "../signals/index.js";

interface PresenceEntry {
  readonly node: string;
  readonly remote: string;
  readonly serial: string;
}

export interface PresenceOptions {
  readonly url: string;
  readonly prefix: string;
  readonly nodeId: string;
  readonly ttlMs: number;
  readonly bus: SignalBus;
  readonly log: Logger;
}

/** Compare-and-delete: a node removes a device's entry only while it is still its own. */
const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;

/**
 * Which node holds each device's live session, cluster-wide (Redis). A node's liveness is
 * one key with a TTL refreshed by its heartbeat (O(1) per node, not per device); a device's
 * entry names its node and counts only while that node is alive, so a killed node's devices
 * are free again within `ttlMs`.
 *
 * On `gateway.connected`, the entry is swapped for this node's (`SET ... GET`); when the
 * previous holder is another live node, the same identity is connected twice in the
 * cluster: `identity.cloned_suspected` is raised, as the gateway does for two sessions on
 * one node (aedes then ends the older session through its `$SYS/.../new/clients` message) —
 * once that node's heartbeat is seen to go on (`#stillAlive`): a killed node's devices
 * reconnecting elsewhere within `ttlMs` are a failover, not clones.
 */
export class PresenceRegistry {
  readonly #options: PresenceOptions;
  readonly #local = new Map<string, { value: string; remote: string }>();
  #redis: Redis | undefined;
  #timer: NodeJS.Timeout | undefined;
  #offs: (() => void)[] = [];
  clones = 0;
  /** Devices that came here from a node that had stopped (its heartbeat no longer moved): not clones. */
  failovers = 0;

  constructor(options: PresenceOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const redis = new Redis(this.#options.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    redis.on("error", () => undefined);
    await redis.connect();
    this.#redis = redis;
    await this.#heartbeat();
    this.#timer = setInterval(() => void this.#heartbeat(), this.#heartbeatMs());
    this.#timer.unref();
    const bus = this.#options.bus;
    this.#offs = [
      bus.on("gateway.connected", (e) => void this.#connected(e.device, e.remote, e.serial)),
      bus.on("gateway.disconnected", (e) => void this.#released(e.device, e.remote)),
    ];
  }

  async stop(): Promise<void> {
    for (const off of this.#offs) off();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    const redis = this.#redis;
    if (redis === undefined) return;
    await Promise.all([...this.#local.keys()].map((device) => this.#released(device)));
    await redis.del(this.#nodeKey(this.#options.nodeId)).catch(() => undefined);
    await redis.quit().catch(() => undefined);
  }

  /** The node holding a device's live session, if that node is alive. */
  async holder(device: string): Promise<string | undefined> {
    const redis = this.#redis;
    if (redis === undefined) return undefined;
    const raw = await redis.get(this.#deviceKey(device));
    const entry = raw === null ? undefined : parseEntry(raw);
    if (entry === undefined) return undefined;
    return (await redis.exists(this.#nodeKey(entry.node))) === 1 ? entry.node : undefined;
  }

  #deviceKey(device: string): string {
    return `${this.#options.prefix}:presence:${device}`;
  }

  #nodeKey(node: string): string {
    return `${this.#options.prefix}:node:${node}`;
  }

  async #heartbeat(): Promise<void> {
    await this.#redis
      ?.set(this.#nodeKey(this.#options.nodeId), String(Date.now()), "PX", this.#options.ttlMs)
      .catch(() => undefined);
  }

  async #connected(device: string, remote: string, serial: string): Promise<void> {
    const redis = this.#redis;
    if (redis === undefined) return;
    const value = JSON.stringify({ node: this.#options.nodeId, remote, serial } satisfies PresenceEntry);
    this.#local.set(device, { value, remote });
    try {
      const previous = await redis.set(this.#deviceKey(device), value, "GET");
      const entry = previous === null ? undefined : parseEntry(previous);
      if (entry === undefined || entry.node === this.#options.nodeId) return;
      if (!(await this.#stillAlive(redis, entry.node))) {
        this.failovers++;
        return;
      }
      // Still ours? A session that ended meanwhile (the device moved on) is no clone either.
      if (this.#local.get(device)?.value !== value) return;
      this.clones++;
      const host = (r: string) => r.replace(/:\d+$/, "");
      this.#options.bus.emit("identity.cloned_suspected", {
        device,
        remotes: [`${entry.remote} (node ${entry.node})`, `${remote} (node ${this.#options.nodeId})`],
        sameHost: host(entry.remote) === host(remote),
        serials: [...new Set([entry.serial, serial])],
      });
    } catch (error) {
      this.#options.log.warn({ err: error, device }, "presence registry unavailable");
    }
  }

  /**
   * Whether `node` is alive, judged by its heartbeat going on: its liveness key outlives a
   * killed node by up to `ttlMs`, and a device of that node reconnecting here meanwhile (the
   * failover every such device makes) must not read as one identity in two places. So the key
   * must be there and its heartbeat stamp must move within two heartbeat periods. Delays a
   * cross-node clone finding by those two periods (on one node the gateway's own check is
   * immediate).
   */
  async #stillAlive(redis: Redis, node: string): Promise<boolean> {
    const before = await redis.get(this.#nodeKey(node));
    if (before === null) return false;
    await new Promise((resolve) => setTimeout(resolve, 2 * this.#heartbeatMs()).unref());
    const after = await redis.get(this.#nodeKey(node));
    return after !== null && after !== before;
  }

  #heartbeatMs(): number {
    return Math.max(250, Math.floor(this.#options.ttlMs / 3));
  }

  /** `remote` given: only when it is still that session's (a taken-over session ends after its successor began). */
  async #released(device: string, remote?: string): Promise<void> {
    const local = this.#local.get(device);
    if (local === undefined || (remote !== undefined && local.remote !== remote)) return;
    this.#local.delete(device);
    await this.#redis?.eval(RELEASE, 1, this.#deviceKey(device), local.value).catch(() => undefined);
  }
}

function parseEntry(raw: string): PresenceEntry | undefined {
  try {
    const value = JSON.parse(raw) as Partial<PresenceEntry>;
    return typeof value.node === "string" && typeof value.remote === "string" && typeof value.serial === "string"
      ? (value as PresenceEntry)
      : undefined;
  } catch {
    return undefined;
  }
}
