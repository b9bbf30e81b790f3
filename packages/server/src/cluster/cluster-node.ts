import type { Clock, Logger } from "../core/index.js";
import type { SignalBus } from "../signals/index.js";
import { ClusterBus, NatsChannel, RedisChannel } from "./cluster-bus.js";
import type { ClusterConfig } from "./cluster-config.js";
import { ClusterEnforcement, type LocalSessions } from "./cluster-enforcement.js";
import { brokerBackends, type BrokerBackends } from "./mqtt-backends.js";
import type { CampaignAction } from "./cluster-message.js";
import { RedisLeaderLease, type LeaderLease } from "./leader-lease.js";
import { PresenceRegistry } from "./presence-registry.js";
import { RedisJobLock, localJobLock, type JobLock } from "./redis-job-lock.js";

export interface ClusterNodeDeps {
  readonly config: ClusterConfig;
  readonly nodeId: string;
  /** `mqtt.persistence`: where this node's MQTT sessions live. */
  readonly mqttPersistence: "memory" | "redis";
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  /** This node's gateway, once started (absent on a control node). */
  readonly sessions: () => LocalSessions | undefined;
}

const LEASE_MIN_TTL_MS = 10_000;

/** An operator action on an update campaign, as it travels between nodes. */
export interface CampaignActionMessage {
  readonly campaign: string;
  readonly action: CampaignAction;
  readonly device?: string;
}

export interface CampaignActions {
  send(action: CampaignActionMessage): void;
  on(handler: (action: CampaignActionMessage) => void): () => void;
}

/**
 * One node's part of the cluster: the aedes backends its gateway needs, the decision bus
 * (Redis or NATS), the cluster-wide enforcement ports, the presence registry and the job
 * lock. With `transport: none` it is inert: enforcement goes straight to the local gateway.
 */
export class ClusterNode {
  readonly #deps: ClusterNodeDeps;
  readonly #bus: ClusterBus | undefined;
  readonly enforcement: ClusterEnforcement | undefined;
  readonly #presence: PresenceRegistry | undefined;
  readonly #lock: RedisJobLock | undefined;
  #offRevoked: (() => void) | undefined;
  #backends: BrokerBackends[] = [];

  constructor(deps: ClusterNodeDeps) {
    this.#deps = deps;
    const { config } = deps;
    if (config.transport === "none") return;
    const channel =
      config.transport === "redis"
        ? new RedisChannel(config.redisUrl, config.prefix)
        : new NatsChannel(config.natsUrl, config.prefix);
    this.#bus = new ClusterBus({ nodeId: deps.nodeId, channel, clock: deps.clock, log: deps.log });
    this.enforcement = new ClusterEnforcement({ bus: this.#bus, local: deps.sessions, log: deps.log });
    this.#presence = new PresenceRegistry({
      url: config.redisUrl,
      prefix: config.prefix,
      nodeId: deps.nodeId,
      ttlMs: config.presenceTtlMs,
      bus: deps.bus,
      log: deps.log,
    });
    this.#lock = new RedisJobLock({ url: config.redisUrl, prefix: config.prefix });
  }

  get nodeId(): string {
    return this.#deps.nodeId;
  }

  get clustered(): boolean {
    return this.#bus !== undefined;
  }

  /** The decision bus (absent with transport none): its counters, for tests and metrics. */
  get bus(): ClusterBus | undefined {
    return this.#bus;
  }

  /** Periodic jobs take it so that one node of the cluster runs each. */
  get jobLock(): JobLock {
    return this.#lock ?? localJobLock;
  }

  /**
   * A held lease named `name` in the cluster's Redis (absent with transport none: a lone
   * node holds everything). It expires `cluster.presenceTtlMs` (at least 10 s) after its
   * holder's last renewal: a holder whose event loop stalls for a few seconds (a busy start)
   * keeps it, a dead holder's lease is free within that time. Each call makes a new holder.
   */
  lease(name: string): LeaderLease | undefined {
    const { config } = this.#deps;
    if (this.#bus === undefined) return undefined;
    return new RedisLeaderLease({
      url: config.redisUrl,
      prefix: config.prefix,
      name,
      nodeId: this.#deps.nodeId,
      ttlMs: Math.max(LEASE_MIN_TTL_MS, config.presenceTtlMs),
      log: this.#deps.log,
    });
  }

  /**
   * Operator actions on update campaigns, between nodes (over the decision bus; absent with
   * transport none). `send` tells every other node; `on` hears the other nodes'.
   */
  get campaignActions(): CampaignActions | undefined {
    const bus = this.#bus;
    if (bus === undefined) return undefined;
    return {
      send: (action) => bus.send({ kind: "campaign", ...action }),
      on: (handler) =>
        bus.onDecision((m) => {
          if (m.kind === "campaign")
            handler({ campaign: m.campaign, action: m.action, ...(m.device !== undefined ? { device: m.device } : {}) });
        }),
    };
  }

  /**
   * Whether a device has a live session on some node of the cluster (the presence registry);
   * undefined on one node, or when Redis does not answer (the caller then knows only its own).
   */
  async online(device: string): Promise<boolean | undefined> {
    const presence = this.#presence;
    if (presence === undefined) return undefined;
    return presence.holder(device).then(
      (node) => node !== undefined,
      () => undefined,
    );
  }

  /** aedes's backends for this node's gateway. */
  async backends(): Promise<BrokerBackends> {
    const { config } = this.#deps;
    const backends = await brokerBackends({
      nodeId: this.#deps.nodeId,
      redisUrl: config.redisUrl,
      // MQTT routing between nodes is Redis in both transports (docs/adr/0005-cluster-transport.md).
      routing: config.transport === "none" ? "memory" : "redis",
      persistence: config.transport === "none" ? this.#deps.mqttPersistence : "redis",
    });
    this.#backends.push(backends);
    return backends;
  }

  async start(): Promise<void> {
    if (this.#bus === undefined) return;
    await this.#bus.start();
    this.enforcement?.start();
    await this.#presence?.start();
    await this.#lock?.start();
    const enforcement = this.enforcement;
    this.#offRevoked = this.#deps.bus.on("identity.revoked", (e) => enforcement?.revoked(e.device, e.serials, e.reason));
    this.#deps.log.info({ node: this.#deps.nodeId, transport: this.#deps.config.transport }, "cluster node joined");
  }

  /** After the gateway stopped (it starts after this node, so it stops before). */
  async stop(): Promise<void> {
    for (const backends of this.#backends) await backends.close();
    this.#backends = [];
    this.#offRevoked?.();
    this.enforcement?.stop();
    await this.#presence?.stop();
    await this.#lock?.stop();
    await this.#bus?.stop();
  }
}
