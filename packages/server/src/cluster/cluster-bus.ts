import { Redis } from "ioredis";
import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";
import type { Clock, Logger } from "../core/index.js";
import { parseClusterMessage, type ClusterMessage } from "./cluster-message.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What a node sends: the message without the envelope the bus adds (node, seq, at). */
export type ClusterDecision = DistributiveOmit<ClusterMessage, "v" | "node" | "seq" | "at">;

/** A raw pub/sub channel: Redis pub/sub or core NATS. At-most-once; the store holds the truth. */
export interface ClusterChannel {
  readonly name: "redis" | "nats";
  start(onMessage: (data: Uint8Array | string) => void): Promise<void>;
  /** False when the channel cannot take it now (disconnected): the bus queues it. */
  send(data: string): boolean;
  stop(): Promise<void>;
}

export interface ClusterBusOptions {
  readonly nodeId: string;
  readonly channel: ClusterChannel;
  readonly clock: Clock;
  readonly log: Logger;
  /** Messages held while the channel is down; beyond it the oldest are dropped (counted). */
  readonly maxQueued?: number;
}

export interface ClusterBusStats {
  sent: number;
  received: number;
  /** Dropped on receipt: invalid (not a message of ours). */
  invalid: number;
  /** Ignored on receipt: our own echo, or a sequence number already seen from that node. */
  ignored: number;
  /** Dropped on send because the queue was full while the channel was down. */
  dropped: number;
}

const MAX_NODES_TRACKED = 1024;

/**
 * The security-decision bus between nodes: every message is validated on receipt (zod),
 * carries its sender's node id and a sequence number (own echoes and replays are ignored),
 * and the queue of messages waiting for a down channel is bounded.
 */
export class ClusterBus {
  readonly #options: ClusterBusOptions;
  readonly #handlers = new Set<(message: ClusterMessage) => void>();
  readonly #lastSeq = new Map<string, number>();
  readonly #queue: string[] = [];
  readonly stats: ClusterBusStats = { sent: 0, received: 0, invalid: 0, ignored: 0, dropped: 0 };
  #seq: number;
  #flushTimer: NodeJS.Timeout | undefined;

  constructor(options: ClusterBusOptions) {
    this.#options = options;
    // Sequence numbers start at the clock (µs-scale), so a restarted node keeps increasing them.
    this.#seq = options.clock.now() * 1000;
  }

  get nodeId(): string {
    return this.#options.nodeId;
  }

  get transport(): "redis" | "nats" {
    return this.#options.channel.name;
  }

  async start(): Promise<void> {
    await this.#options.channel.start((data) => this.#receive(data));
    this.#flushTimer = setInterval(() => this.#flush(), 250);
    this.#flushTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.#flushTimer !== undefined) clearInterval(this.#flushTimer);
    this.#flush();
    await this.#options.channel.stop();
  }

  /** Receives every valid decision of another node. Returns the function that unsubscribes. */
  onDecision(handler: (message: ClusterMessage) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** Sends a decision to every other node (fire and forget; queued while the channel is down). */
  send(decision: ClusterDecision): void {
    const message = {
      v: 1,
      node: this.#options.nodeId,
      seq: ++this.#seq,
      at: this.#options.clock.now(),
      ...decision,
    } as ClusterMessage;
    const data = JSON.stringify(message);
    if (this.#queue.length === 0 && this.#options.channel.send(data)) {
      this.stats.sent++;
      return;
    }
    this.#queue.push(data);
    const max = this.#options.maxQueued ?? 10_000;
    while (this.#queue.length > max) {
      this.#queue.shift();
      this.stats.dropped++;
    }
  }

  #flush(): void {
    while (this.#queue.length > 0) {
      if (!this.#options.channel.send(this.#queue[0] as string)) return;
      this.#queue.shift();
      this.stats.sent++;
    }
  }

  #receive(data: Uint8Array | string): void {
    const message = parseClusterMessage(data);
    if (message === undefined) {
      this.stats.invalid++;
      return;
    }
    if (message.node === this.#options.nodeId) {
      this.stats.ignored++;
      return;
    }
    const last = this.#lastSeq.get(message.node);
    // Already seen from that node: a replay or a duplicate.
    if (last !== undefined && message.seq <= last) {
      this.stats.ignored++;
      return;
    }
    this.#lastSeq.delete(message.node);
    this.#lastSeq.set(message.node, message.seq);
    if (this.#lastSeq.size > MAX_NODES_TRACKED) {
      const oldest = this.#lastSeq.keys().next().value;
      if (oldest !== undefined) this.#lastSeq.delete(oldest);
    }
    this.stats.received++;
    for (const handler of this.#handlers) {
      try {
        handler(message);
      } catch (error) {
        this.#options.log.error({ err: error, kind: message.kind, from: message.node }, "cluster decision handler failed");
      }
    }
  }
}

/** Redis pub/sub: one connection publishes, one subscribes (a subscribed connection can do nothing else). */
export class RedisChannel implements ClusterChannel {
  readonly name = "redis" as const;
  readonly #url: string;
  readonly #channel: string;
  #pub: Redis | undefined;
  #sub: Redis | undefined;

  constructor(url: string, prefix: string) {
    this.#url = url;
    this.#channel = `${prefix}:decisions`;
  }

  async start(onMessage: (data: Uint8Array | string) => void): Promise<void> {
    const options = { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: false } as const;
    this.#pub = new Redis(this.#url, options);
    this.#sub = new Redis(this.#url, { ...options, enableOfflineQueue: true });
    this.#pub.on("error", () => undefined);
    this.#sub.on("error", () => undefined);
    await Promise.all([this.#pub.connect(), this.#sub.connect()]);
    this.#sub.on("messageBuffer", (_channel: Buffer, message: Buffer) => onMessage(message));
    await this.#sub.subscribe(this.#channel);
  }

  send(data: string): boolean {
    const pub = this.#pub;
    if (pub === undefined || pub.status !== "ready") return false;
    pub.publish(this.#channel, data).catch(() => undefined);
    return true;
  }

  async stop(): Promise<void> {
    this.#sub?.disconnect();
    await this.#pub?.quit().catch(() => undefined);
  }
}

/** Core NATS publish/subscribe (no JetStream: a decision is only worth its live delivery). */
export class NatsChannel implements ClusterChannel {
  readonly name = "nats" as const;
  readonly #url: string;
  readonly #subject: string;
  #nc: NatsConnection | undefined;

  constructor(url: string, prefix: string) {
    this.#url = url;
    this.#subject = `${prefix}.decisions`;
  }

  async start(onMessage: (data: Uint8Array | string) => void): Promise<void> {
    const nc = await natsConnect({ servers: this.#url, maxReconnectAttempts: -1, timeout: 5000 });
    this.#nc = nc;
    nc.subscribe(this.#subject, { callback: (error, msg) => (error === null ? onMessage(msg.data) : undefined) });
    await nc.flush();
  }

  send(data: string): boolean {
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed()) return false;
    nc.publish(this.#subject, data);
    return true;
  }

  async stop(): Promise<void> {
    await this.#nc?.drain().catch(() => undefined);
  }
}
