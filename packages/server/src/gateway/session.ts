import type { Client } from "aedes";
import type { Duplex } from "node:stream";
import type { DeviceId } from "../core/index.js";
import type { CompiledPolicy, Profile, TokenBucket } from "../policy/index.js";

/** Largest packet before CONNECT is accepted (a CONNECT with its will): 64 KiB. */
export const PRE_AUTH_MAX_PACKET_BYTES = 64 * 1024;

/**
 * The parts of an aedes 1.x client the gateway reaches into. aedes exposes no hook between
 * its packet parser and its handlers, nor a bounded read loop, so the gateway wraps these
 * (see `Gateway#attach`); `aedes-internals.test.ts` fails if an aedes update moves them.
 */
export interface AedesClientInternals extends Client {
  readonly _parser: ParserInternals;
  readonly _nextBatch: (error?: Error) => void;
  readonly _parsingBatch: number;
  readonly _will: WillPacket | null | undefined;
  readonly will: WillPacket | null | undefined;
  readonly connackSent: boolean;
  readonly _disconnected: boolean;
  readonly subscriptions: Record<string, { qos: number }>;
  readonly conn: Duplex & { destroyed: boolean; remoteAddress?: string; remotePort?: number };
}

export interface ParserInternals {
  packet: { cmd?: string; length: number };
  _parseLength: (this: ParserInternals) => boolean;
  _emitError(error: Error): void;
  listeners(event: "packet"): ((...args: unknown[]) => void)[];
  removeAllListeners(event: "packet"): void;
  on(event: "packet", listener: (packet: IncomingPacket) => void): void;
}

export interface WillPacket {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

/** What the parser emits; only PUBLISH fields are read on the hot path. */
export interface IncomingPacket {
  readonly cmd: string;
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly messageId?: number;
}

/** Why a session ended, as reported in `gateway.disconnected`. */
export type EndReason =
  | "client_disconnected"
  | "connection_lost"
  | "policy_violation"
  | "packet_too_large"
  | "rate_abuse"
  | "revoked"
  | "certificate_expired"
  | "taken_over"
  | "protocol_error"
  | "keepalive_timeout"
  | "disconnected_by_operator"
  | "refused";

/**
 * One MQTT connection's state: who it is once authenticated, the policy in force, its
 * token buckets and the counters its signals carry. Mutable on purpose: the per-message path
 * updates it in place.
 */
export class Session {
  readonly client: AedesClientInternals;
  readonly remote: string;
  readonly remoteHost: string;
  readonly openedAt: number;
  device: DeviceId | undefined;
  serial = "";
  profile: Profile | undefined;
  /** The compiled policy in force; undefined until CONNECT is accepted, and for service clients. */
  policy: CompiledPolicy | undefined;
  /** Service clients (backend consumers): the exact filters they may subscribe; they never publish. */
  grants: ReadonlySet<string> | undefined;
  bucket: TokenBucket | undefined;
  /** Drops a device may cause before it is disconnected for sustained flooding. */
  tolerance: TokenBucket | undefined;
  maxPacketBytes = PRE_AUTH_MAX_PACKET_BYTES;
  notAfter = Number.POSITIVE_INFINITY;
  /** The PUBLISH the gate just admitted: aedes's authorizePublish then passes it without a second check. */
  approved: unknown = null;
  /** Drops not yet reported in a `gateway.throttled` signal, and when the last one went out. */
  dropped = 0;
  lastThrottleReport = Number.NEGATIVE_INFINITY;
  lastDroppedTopic = "";
  endReason: EndReason | undefined;
  endTopic: string | null = null;
  /** Authenticated by username/password (legacy device, no certificate): lower trust. */
  legacy = false;
  /** True once CONNECT was accepted and the session registered. */
  live = false;
  closed = false;

  constructor(client: AedesClientInternals, openedAt: number) {
    this.client = client;
    const host = client.conn.remoteAddress ?? "unknown";
    this.remoteHost = host;
    this.remote = `${host}:${client.conn.remotePort ?? 0}`;
    this.openedAt = openedAt;
  }

  /** Ends the connection now, recording why (the first reason given wins). */
  end(reason: EndReason, topic: string | null = null): void {
    if (this.endReason === undefined) {
      this.endReason = reason;
      this.endTopic = topic;
    }
    if (!this.client.conn.destroyed) this.client.conn.destroy();
  }
}
