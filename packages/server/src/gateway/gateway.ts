import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from "aedes";
import { createServer as createNetServer, isIP, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type PeerCertificate, type Server as TlsServer, type TLSSocket } from "node:tls";
import { VigilError, parseDeviceId, type Clock, type DeviceId, type Logger } from "../core/index.js";
import {
  TLS_CIPHERS,
  TLS_MIN_VERSION,
  type CertificateAuthority,
  type CertificateRepository,
  type DeviceRepository,
} from "../identity/index.js";
import {
  DEFAULT_TOPIC_LIMITS,
  TokenBucket,
  compilePolicy,
  evaluatePublish,
  evaluateSubscribe,
  type CompiledPolicy,
  type DenyDecision,
  type Profile,
  type Tier,
  type TopicLimits,
} from "../policy/index.js";
import type { SignalBus } from "../signals/index.js";
import { Session, type AedesClientInternals, type EndReason, type IncomingPacket, type ParserInternals } from "./session.js";
import type { LegacyPasswords } from "./legacy-passwords.js";
import { SourceLimiter } from "./source-limiter.js";
import { DefaultTierSource, type TierSource } from "./tier-source.js";

/** The gateway's settings, resolved (the platform fills host and port). */
export interface GatewaySettings {
  readonly host: string;
  readonly port: number;
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxConnectionsPerSource: number;
  readonly throttleDropsBeforeDisconnect: number;
  /** Legacy devices may connect with username/password (no certificate) over server-authenticated TLS. */
  readonly legacyPasswordAuth?: boolean;
}

/** Port: the profile a device's record names (the policy module's loaded profiles by default). */
export type ProfileSource = (profileId: string) => Profile | undefined;

export interface GatewayDeps {
  readonly settings: GatewaySettings;
  readonly ca: CertificateAuthority;
  readonly devices: DeviceRepository;
  readonly certificates: CertificateRepository;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly profiles: ProfileSource;
  readonly tiers?: TierSource;
  readonly topicLimits?: TopicLimits;
  /** Password check of legacy devices; used only when `settings.legacyPasswordAuth` is on. */
  readonly legacyPasswords?: Pick<LegacyPasswords, "verify">;
  /**
   * Backend consumers (not devices): enrolled identities that may subscribe exactly these
   * filters across devices (e.g. `devices/+/telemetry`) and never publish.
   */
  readonly services?: ReadonlyMap<string, readonly string[]>;
  /**
   * Testing only: plain TCP without TLS, refused unless `host` is loopback, and a permissive
   * policy (every topic but `$`-topics and the `denySubscribe` filters) for interoperability
   * suites that connect anonymously. Never reachable from the configuration.
   */
  readonly insecureTesting?: { readonly plain: true; readonly denySubscribe: readonly string[] };
  /**
   * Inline observer (detection): called on every PUBLISH the policy and rate allowed, on the
   * message path (O(1), no allocation); returning false drops the message. `payload` is the
   * message's body (read only, not retained).
   */
  readonly observer?: (device: string, topic: string, payloadBytes: number, now: number, payload: Buffer) => boolean;
  /**
   * aedes backends for several nodes (cluster/mqtt-backends.ts): the broker id, the message
   * router (mqemitter-redis) and the session persistence (aedes-persistence-redis). Absent:
   * aedes's in-memory ones (one node).
   */
  readonly backends?: { readonly id?: string; readonly mq?: unknown; readonly persistence?: unknown };
}

/** What a session looks like from outside (operators, tests). */
export interface SessionInfo {
  readonly device: string;
  readonly remote: string;
  readonly serial: string;
  readonly profile: string | null;
  readonly tier: Tier | null;
  /** Authenticated by username/password instead of a certificate (lower trust). */
  readonly legacy: boolean;
}

/** A device without a profile gets only the control channel, at a modest rate. */
const NO_PROFILE: Profile = Object.freeze({
  id: "none",
  description: "No profile declared: control channel only.",
  vertical: "generic",
  safetyCritical: false,
  publish: Object.freeze([]),
  subscribe: Object.freeze([]),
  subscribeWildcards: false,
  maxMessagesPerSecond: 1,
  burst: 5,
  maxPayloadBytes: 4096,
  maxQos: 1,
  retainAllowed: false,
  sensitivePayload: false,
});

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const SESSION: unique symbol = Symbol("vigil.gateway.session");
const SIGNAL_TOPIC_CHARS = 300;
const REPORT_EVERY_MS = 1000;
const SWEEP_EVERY_MS = 15_000;
/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const NOT_AUTHORIZED = 5;
const BAD_USERNAME_OR_PASSWORD = 4;
/** argon2id verifications in flight at once (each ~19 MiB and tens of ms): more get CONNACK 3. */
const MAX_PASSWORD_CHECKS = 8;

type Refusal = { readonly ok: false; readonly reason: string; readonly code: number; readonly device: string | null };
type Acceptance = { readonly ok: true };

/**
 * Vigil's MQTT 3.1.1 gateway: aedes over `node:tls` with mutual TLS, and the enforcement
 * point of every device's least-privilege policy (DESIGN.md "Protect").
 *
 * - CONNECT: the client certificate must be one Vigil issued (byte-equal to the stored one),
 *   not revoked, of a device that is not revoked, and the client id must be its device id.
 * - Every PUBLISH passes a gate between aedes's parser and its handlers: packet size
 *   (checked from the fixed header, before the payload is buffered), the compiled policy
 *   (one Map lookup), the device's token bucket. Denied: dropped and disconnected
 *   ([MQTT-3.3.5-2]); over the rate: dropped (QoS 1/2 acknowledged, which [MQTT-3.3.5-2]
 *   allows), and disconnected when the drops go on.
 * - SUBSCRIBE: the policy; denied filters get SUBACK 0x80, a QoS above the rule's is granted
 *   at the rule's QoS (§3.9.3 lets the server grant less).
 * - Each client's read loop is bounded: aedes reads the next chunk of a socket only when
 *   every packet of the previous one has been handled (aedes 1.2 lets every TLS record
 *   bypass that, which is how one fast publisher queued 214k messages).
 * Every decision that is not a plain allow emits a signal.
 */
export class Gateway {
  readonly #deps: GatewayDeps;
  readonly #settings: GatewaySettings;
  readonly #log: Logger;
  readonly #bus: SignalBus;
  readonly #clock: Clock;
  readonly #limits: TopicLimits;
  readonly #tiers: TierSource;
  readonly #sessions = new Map<DeviceId, Session>();
  readonly #sockets = new Set<Socket>();
  readonly #revokedAt = new Map<DeviceId, number>();
  readonly #reportedAt = new Map<string, number>();
  #limiter: SourceLimiter;
  #broker: Aedes | undefined;
  /**
   * With a shared router or persistence (a cluster): routes an admitted QoS 1 PUBLISH before
   * aedes writes its PUBACK (see `#routeBeforeAck`). Absent on one node in memory.
   */
  #routeFirst: ((packet: PublishPacket, client: Client, done: (error?: Error | null) => void) => void) | undefined;
  #server: TlsServer | NetServer | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #stopping = false;
  #address: AddressInfo | undefined;
  #passwordChecks = 0;

  constructor(deps: GatewayDeps) {
    this.#deps = deps;
    this.#settings = deps.settings;
    this.#log = deps.log;
    this.#bus = deps.bus;
    this.#clock = deps.clock;
    this.#limits = deps.topicLimits ?? DEFAULT_TOPIC_LIMITS;
    this.#tiers = deps.tiers ?? new DefaultTierSource();
    this.#limiter = new SourceLimiter(deps.settings.maxConnectionsPerSource);
  }

  /** `mqtts://host:port` (or `mqtt://` in the plain testing mode) once started. */
  get url(): string {
    if (this.#address === undefined) throw new Error("gateway not started");
    const host = this.#address.family === "IPv6" ? `[${this.#address.address}]` : this.#address.address;
    const shown = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;
    return `${this.#deps.insecureTesting ? "mqtt" : "mqtts"}://${shown}:${this.#address.port}`;
  }

  get port(): number {
    if (this.#address === undefined) throw new Error("gateway not started");
    return this.#address.port;
  }

  /** Live device sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Open sockets, authenticated or not. */
  get connectionCount(): number {
    return this.#sockets.size;
  }

  async start(): Promise<void> {
    const settings = this.#settings;
    const testing = this.#deps.insecureTesting;
    if (testing !== undefined && !LOOPBACK.test(settings.host)) {
      throw new VigilError(
        "MQTT_PLAIN_NOT_LOOPBACK",
        `plain MQTT was asked for on ${settings.host}, which is not a loopback address`,
        {
          hint: "Plain MQTT is for local interoperability tests only: bind 127.0.0.1.",
        },
      );
    }
    const backends = this.#deps.backends;
    this.#broker = await Aedes.createBroker({
      ...(backends?.id !== undefined ? { id: backends.id } : {}),
      ...(backends?.mq !== undefined ? { mq: backends.mq as never } : {}),
      ...(backends?.persistence !== undefined ? { persistence: backends.persistence as never } : {}),
      connectTimeout: settings.connectTimeoutMs,
      preConnect: (client, _packet, done) => this.#preConnect(client, done),
      authenticate: (client, username, password, done) => this.#authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.#authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.#authorizeSubscribe(client, sub, done),
    });
    if (backends?.mq !== undefined || backends?.persistence !== undefined) this.#routeBeforeAck(this.#broker);
    this.#broker.on("clientError", (client, error) => this.#clientError(client, error));
    this.#broker.on("connectionError", (client, error) => this.#clientError(client, error));
    this.#broker.on("keepaliveTimeout", (client) => this.#sessionOf(client)?.end("keepalive_timeout"));

    if (testing !== undefined) {
      this.#server = createNetServer({ noDelay: true }, (socket) => this.#attach(socket));
    } else {
      const tls = await this.#deps.ca.issueServer(
        isIP(settings.host) === 0 ? [settings.host] : [],
        isIP(settings.host) !== 0 ? [settings.host] : [],
      );
      const server = createTlsServer(
        {
          cert: tls.chainPem,
          key: tls.keyPem,
          // Device certificates chain to the issuing CA; the root is the anchor.
          ca: [this.#deps.ca.issuingPem, this.#deps.ca.rootPem],
          requestCert: true,
          // With legacy password auth on, a device may present no certificate: the handshake
          // no longer fails on a missing or untrusted one, and #checkConnect refuses any
          // certificate OpenSSL did not verify (`authorized`) and any connection without one
          // that has no valid password. Off (the default): OpenSSL requires a valid certificate.
          rejectUnauthorized: !this.#legacyEnabled,
          minVersion: TLS_MIN_VERSION,
          ciphers: TLS_CIPHERS,
          handshakeTimeout: settings.handshakeTimeoutMs,
          noDelay: true,
        },
        (socket) => this.#attach(socket),
      );
      server.on("tlsClientError", (error: NodeJS.ErrnoException, socket: TLSSocket) => this.#handshakeFailed(error, socket));
      this.#server = server;
    }
    const server = this.#server;
    server.on("connection", (socket: Socket) => this.#admit(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error: NodeJS.ErrnoException) => {
        reject(
          error.code === "EADDRINUSE" || error.code === "EADDRNOTAVAIL" || error.code === "EACCES"
            ? new VigilError("PORT_IN_USE", `cannot listen for MQTT on ${settings.host}:${settings.port} (${error.code})`, {
                cause: error,
                hint: "Stop the other process, or choose another port with --mqtt-port (or an address of this machine with --mqtt-host).",
              })
            : error,
        );
      });
      server.listen(settings.port, settings.host, () => resolve());
    });
    server.on("error", (error) => this.#log.error({ err: error }, "MQTT listener error"));
    this.#address = server.address() as AddressInfo;
    this.#unsubscribe = this.#bus.on("identity.revoked", (event) => this.#revoked(event.device, event.serials));
    this.#sweep = setInterval(() => this.#sweepNow(), SWEEP_EVERY_MS);
    this.#sweep.unref();
    this.#log.info({ url: this.url }, "MQTT gateway listening");
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#unsubscribe?.();
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    const server = this.#server;
    const closed = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    const broker = this.#broker;
    if (broker !== undefined) await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.#sessions.clear();
  }

  /** The live sessions, for operators and tests. */
  sessions(): SessionInfo[] {
    return [...this.#sessions.values()].map((s) => ({
      device: s.device as string,
      remote: s.remote,
      serial: s.serial,
      profile: s.profile?.id ?? null,
      tier: s.policy?.tier ?? null,
      legacy: s.legacy,
    }));
  }

  isConnected(deviceId: string): boolean {
    return this.#sessions.has(deviceId as DeviceId);
  }

  /** The policy in force for a live session (tests, explanations). */
  policyOf(deviceId: string): CompiledPolicy | undefined {
    return this.#sessions.get(deviceId as DeviceId)?.policy;
  }

  /**
   * Port for response: ends a device's live session now. Returns whether there was one.
   */
  disconnect(deviceId: string, reason: EndReason = "disconnected_by_operator"): boolean {
    const session = this.#sessions.get(deviceId as DeviceId);
    if (session === undefined) return false;
    this.#sessions.delete(deviceId as DeviceId);
    session.end(reason);
    return true;
  }

  /**
   * Port for trust and response: applies a new tier to the device now — recorded for its
   * next connections (when the tier source is the default one) and, for a live session, its
   * policy recompiled, its token bucket resized and every subscription the new policy no
   * longer allows removed. The new policy applies to the next packet at once; resolves once
   * the removed subscriptions are gone, with the number of live sessions changed (0 or 1).
   */
  async applyTier(deviceId: string, tier: Tier, reason: string): Promise<number> {
    const id = parseDeviceId(deviceId);
    if (id === undefined)
      throw new VigilError("DEVICE_ID_INVALID", `device id ${JSON.stringify(deviceId.slice(0, 140))} is not valid`);
    if (this.#tiers instanceof DefaultTierSource) this.#tiers.set(id, tier);
    const session = this.#sessions.get(id);
    if (session?.policy === undefined || session.profile === undefined) return 0;
    const from = session.policy.tier;
    const policy = compilePolicy(session.profile, id, tier, { limits: this.#limits });
    session.policy = policy;
    session.bucket?.reconfigure(policy.rate.perSecond, policy.rate.burst);
    session.maxPacketBytes = maxPacketOf(policy);
    this.#bus.emit("gateway.policy_changed", { device: id, from, to: tier, reason, sessions: 1 });
    const client = session.client;
    const removed = Object.keys(client.subscriptions).filter((filter) => evaluateSubscribe(policy, filter, 0).effect !== "allow");
    if (removed.length > 0) {
      await new Promise<void>((resolve) => client.unsubscribe({ unsubscriptions: removed } as never, () => resolve()));
      this.#log.debug({ device: id, removed }, "subscriptions removed by a tier change");
    }
    return 1;
  }

  /** Quarantine: only the control channel is left, at once. */
  quarantine(deviceId: string, reason: string): Promise<number> {
    return this.applyTier(deviceId, "quarantine", reason);
  }

  /**
   * Sends a command to a device on its control channel `vigil/{device}/cmd` (QoS 1 by
   * default). Resolves once the broker has routed it; `online` says whether the device had a
   * live session (a persistent session receives it on reconnect).
   */
  async sendCommand(
    deviceId: string,
    payload: Buffer | string | object,
    options: { qos?: 0 | 1 } = {},
  ): Promise<{ online: boolean }> {
    const id = parseDeviceId(deviceId);
    if (id === undefined)
      throw new VigilError("DEVICE_ID_INVALID", `device id ${JSON.stringify(deviceId.slice(0, 140))} is not valid`);
    await this.publish(`vigil/${id}/cmd`, payload, { qos: options.qos ?? 1 });
    return { online: this.#sessions.has(id) };
  }

  /**
   * In-process producer (e.g. a device's configuration pushed by a back-office system):
   * routed to every subscriber whose policy granted a matching filter. Not checked against
   * a device policy: only code inside Vigil can call it.
   */
  async publish(
    topic: string,
    payload: Buffer | string | object,
    options: { qos?: 0 | 1; retain?: boolean } = {},
  ): Promise<void> {
    const broker = this.#broker;
    if (broker === undefined) throw new VigilError("SERVICE_UNAVAILABLE", "the MQTT gateway is not running");
    const body = Buffer.isBuffer(payload)
      ? payload
      : Buffer.from(typeof payload === "string" ? payload : JSON.stringify(payload));
    const packet = {
      cmd: "publish",
      topic,
      payload: body,
      qos: options.qos ?? 0,
      retain: options.retain ?? false,
      dup: false,
    } as PublishPacket;
    await new Promise<void>((resolve, reject) => broker.publish(packet, (error?: Error) => (error ? reject(error) : resolve())));
  }

  /**
   * In-process consumer of what devices publish (telemetry ingestion, detection features):
   * `handler` sees every message routed to `filter` after the gate admitted it. Resolves
   * to the function that unsubscribes.
   */
  async subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): Promise<() => Promise<void>> {
    const broker = this.#broker;
    if (broker === undefined) throw new VigilError("SERVICE_UNAVAILABLE", "the MQTT gateway is not running");
    const deliver = (packet: { topic: string; payload: Buffer | string }, done: () => void) => {
      try {
        handler(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
      } finally {
        done();
      }
    };
    await new Promise<void>((resolve) => broker.subscribe(filter, deliver, resolve));
    return () => new Promise<void>((resolve) => broker.unsubscribe(filter, deliver, resolve));
  }

  // --- connection admission -------------------------------------------------------------

  /** Raw TCP connection, before TLS: per-source rate. */
  #admit(socket: Socket): void {
    const now = this.#clock.now();
    const source = socket.remoteAddress ?? "unknown";
    if (this.#stopping || !this.#limiter.admit(source, now)) {
      socket.destroy();
      const refused = this.#limiter.report(source, now, REPORT_EVERY_MS);
      if (refused > 0) {
        this.#bus.emit("gateway.connect_refused", {
          device: null,
          reason: `source_rate_exceeded (${refused} refused)`,
          remote: source,
          returnCode: 0,
        });
      }
      return;
    }
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
  }

  #handshakeFailed(error: NodeJS.ErrnoException, socket: TLSSocket): void {
    socket.destroy();
    const code = error.code ?? "";
    // Resets of sockets refused in #admit, and clients that give up, are not worth a signal.
    if (code === "ECONNRESET" || code === "EPIPE") return;
    const source = socket.remoteAddress ?? "unknown";
    const reason = code === "ERR_TLS_HANDSHAKE_TIMEOUT" ? "tls_handshake_timeout" : "tls_handshake_failed";
    if (this.#shouldReport(`${reason}|${source}`)) {
      this.#bus.emit("gateway.connect_refused", { device: null, reason, remote: source, returnCode: 0 });
    }
    this.#log.debug({ remote: source, code, err: error.message }, "TLS handshake failed");
  }

  /** A connection ready for MQTT: hand it to aedes and put the gate in front of its handlers. */
  #attach(socket: Socket): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const broker = this.#broker as Aedes;
    const client = broker.handle(socket) as AedesClientInternals;
    const session = new Session(client, this.#clock.now());
    (client as unknown as Record<symbol, Session>)[SESSION] = session;

    // The gate: every packet the parser produces passes here before aedes handles it.
    const admit = (packet: IncomingPacket) => this.#admitPublish(session, packet);
    const oversize = (cmd: string, length: number) => this.#oversize(session, cmd, length);
    const parser = client._parser;
    const [enqueue] = parser.listeners("packet");
    if (enqueue === undefined) throw new Error("aedes internals changed: the client parser has no packet listener");
    parser.removeAllListeners("packet");
    parser.on("packet", function gate(this: unknown, packet: IncomingPacket) {
      if (packet.cmd === "publish" && !admit(packet)) return;
      enqueue.call(this, packet);
    });

    // Refuse an oversized packet from its fixed header, before its body is buffered.
    const parseLength = parser._parseLength;
    parser._parseLength = function boundedLength(this: ParserInternals): boolean {
      const ok = parseLength.call(this);
      if (ok && this.packet.length > session.maxPacketBytes) {
        oversize(this.packet.cmd ?? "unknown", this.packet.length);
        this._emitError(new Error("packet too large"));
        return false;
      }
      return ok;
    };

    // Bounded read loop: read the next chunk only when the previous one is fully handled.
    const nextBatch = client._nextBatch;
    if (socket.listeners("readable").includes(nextBatch)) {
      socket.removeListener("readable", nextBatch);
      let started = false;
      socket.on("readable", () => {
        if (!started || client._parsingBatch <= 0) {
          started = true;
          nextBatch();
        }
      });
    } else {
      this.#log.warn("aedes internals changed: the per-client read loop is not bounded");
    }

    socket.once("close", () => this.#closed(session));
  }

  // --- aedes hooks ------------------------------------------------------------------------

  #preConnect(client: Client, done: (error: Error | null, success: boolean) => void): void {
    const session = this.#sessionOf(client);
    if (session === undefined || this.#stopping) return done(new Error("server stopping"), false);
    done(null, true);
  }

  get #legacyEnabled(): boolean {
    return this.#settings.legacyPasswordAuth === true && this.#deps.legacyPasswords !== undefined;
  }

  #authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const session = this.#sessionOf(client);
    if (session === undefined) return done(refusalError(SERVER_UNAVAILABLE, "no session"), false);
    this.#checkConnect(session, client.id, username, password).then(
      (result) => {
        if (result.ok) return done(null, true);
        session.endReason = "refused";
        this.#bus.emit("gateway.connect_refused", {
          device: result.device,
          reason: result.reason,
          remote: session.remote,
          returnCode: result.code,
        });
        done(refusalError(result.code, result.reason), false);
      },
      (error: unknown) => {
        this.#log.error({ err: error, remote: session.remote }, "CONNECT check failed");
        session.endReason = "refused";
        this.#bus.emit("gateway.connect_refused", {
          device: null,
          reason: "server_error",
          remote: session.remote,
          returnCode: SERVER_UNAVAILABLE,
        });
        done(refusalError(SERVER_UNAVAILABLE, "server unavailable"), false);
      },
    );
  }

  /** CONNECT: who is this, and may it connect as the client id it gave? */
  async #checkConnect(session: Session, clientId: string, username?: string, password?: Buffer): Promise<Refusal | Acceptance> {
    const startedAt = this.#clock.now();
    const refuse = (reason: string, code: number, device: string | null = null): Refusal => ({ ok: false, reason, code, device });
    const testing = this.#deps.insecureTesting;
    if (testing !== undefined) return this.#register(session, clientId as DeviceId, undefined, undefined, undefined);

    const socket = session.client.conn as unknown as TLSSocket;
    const peer: PeerCertificate | undefined =
      typeof socket.getPeerCertificate === "function" ? socket.getPeerCertificate() : undefined;
    if (peer === undefined || peer.raw === undefined) {
      if (!this.#legacyEnabled) return refuse("no_certificate", NOT_AUTHORIZED);
      return this.#checkLegacy(session, clientId, username, password, startedAt);
    }
    // Verified by OpenSSL against the issuing CA and root (checked here too: with legacy
    // password auth on, the handshake itself no longer refuses an untrusted certificate).
    if (socket.authorized !== true) return refuse("certificate_untrusted", NOT_AUTHORIZED);
    const serial = peer.serialNumber.toLowerCase();
    const record = await this.#deps.certificates.get(serial);
    // Byte-equal to the certificate Vigil issued and stored: a certificate from another CA
    // under the same root, even with a colliding serial, is not this one.
    if (record === undefined || !sameCertificate(record.pem, peer.raw)) return refuse("certificate_unknown", NOT_AUTHORIZED);
    const deviceId = record.deviceId;
    if (record.revokedAt !== null) return refuse("certificate_revoked", NOT_AUTHORIZED, deviceId);
    const now = this.#clock.now();
    if (now < record.notBefore || now >= record.notAfter) return refuse("certificate_expired", NOT_AUTHORIZED, deviceId);
    // The client id must be the certificate's device id: Vigil keys sessions, policies and
    // topics by it ([MQTT-3.1.3-5] lets the server refuse ids it does not accept: CONNACK 2).
    if (clientId !== deviceId) return refuse("client_id_mismatch", IDENTIFIER_REJECTED, deviceId);
    return this.#admitDevice(session, deviceId, serial, record.notAfter, startedAt, false);
  }

  /**
   * A legacy device without a certificate: username = client id = device id, and the
   * password the operator set (argon2id). Wrong or missing: CONNACK 4.
   */
  async #checkLegacy(
    session: Session,
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
    startedAt: number,
  ): Promise<Refusal | Acceptance> {
    const refuse = (reason: string, code: number, device: string | null = null): Refusal => ({ ok: false, reason, code, device });
    if (username === undefined && password === undefined) return refuse("no_certificate", NOT_AUTHORIZED);
    const deviceId = parseDeviceId(clientId);
    if (deviceId === undefined || username !== clientId)
      return refuse("legacy_username_mismatch", BAD_USERNAME_OR_PASSWORD, deviceId ?? null);
    if (password === undefined) return refuse("legacy_password_invalid", BAD_USERNAME_OR_PASSWORD, deviceId);
    if (this.#passwordChecks >= MAX_PASSWORD_CHECKS) return refuse("legacy_auth_busy", SERVER_UNAVAILABLE, deviceId);
    this.#passwordChecks++;
    let ok: boolean;
    try {
      ok = await (this.#deps.legacyPasswords as Pick<LegacyPasswords, "verify">).verify(deviceId, password.toString("utf8"));
    } finally {
      this.#passwordChecks--;
    }
    if (!ok) return refuse("legacy_password_invalid", BAD_USERNAME_OR_PASSWORD, deviceId);
    return this.#admitDevice(session, deviceId, undefined, undefined, startedAt, true);
  }

  /** The device is who it says: may it connect now, and under which policy? */
  async #admitDevice(
    session: Session,
    deviceId: DeviceId,
    serial: string | undefined,
    notAfter: number | undefined,
    startedAt: number,
    legacy: boolean,
  ): Promise<Refusal | Acceptance> {
    const refuse = (reason: string, code: number, device: string | null = null): Refusal => ({ ok: false, reason, code, device });
    const device = await this.#deps.devices.get(deviceId);
    if (device === undefined) return refuse("device_unknown", NOT_AUTHORIZED, deviceId);
    if (device.state === "revoked") return refuse("device_revoked", NOT_AUTHORIZED, deviceId);
    if ((this.#revokedAt.get(deviceId) ?? Number.NEGATIVE_INFINITY) >= startedAt)
      return refuse("device_revoked", NOT_AUTHORIZED, deviceId);

    const grants = legacy ? undefined : this.#deps.services?.get(deviceId);
    if (grants !== undefined) return this.#register(session, deviceId, serial, notAfter, undefined, new Set(grants));
    const profile = (device.profile === null ? undefined : this.#deps.profiles(device.profile)) ?? NO_PROFILE;
    const tier = this.#tiers.tierOf(device);
    // A legacy device is never above `standard` (lower trust: no certificate, no attestation).
    const policy = compilePolicy(profile, deviceId, legacy && tier === "trusted" ? "standard" : tier, { limits: this.#limits });
    const will = session.client._will;
    if (will !== null && will !== undefined) {
      const decision = evaluatePublish(policy, will.topic, will.qos, will.retain, will.payload.length);
      if (decision.effect === "deny") {
        this.#emitDenied(deviceId, "publish", will.topic, decision, will.qos);
        return refuse(`will_${decision.reason}`, NOT_AUTHORIZED, deviceId);
      }
    }
    session.legacy = legacy;
    return this.#register(session, deviceId, serial, notAfter, { profile, policy });
  }

  #register(
    session: Session,
    deviceId: DeviceId,
    serial: string | undefined,
    notAfter: number | undefined,
    device: { profile: Profile; policy: CompiledPolicy } | undefined,
    grants?: ReadonlySet<string>,
  ): Refusal | Acceptance {
    if (session.client.closed || session.client.conn.destroyed)
      return { ok: false, reason: "connection_lost", code: SERVER_UNAVAILABLE, device: deviceId };
    const previous = this.#sessions.get(deviceId);
    if (previous !== undefined && previous !== session && !previous.closed) {
      // [MQTT-3.1.4-2] the new connection takes over; both are noticed.
      previous.endReason ??= "taken_over";
      this.#bus.emit("identity.cloned_suspected", {
        device: deviceId,
        remotes: [previous.remote, session.remote],
        sameHost: previous.remoteHost === session.remoteHost,
        serials: [...new Set([previous.serial, serial ?? ""])],
      });
    }
    session.device = deviceId;
    session.serial = serial ?? "";
    session.notAfter = notAfter ?? Number.POSITIVE_INFINITY;
    session.grants = grants;
    if (device !== undefined) {
      const { profile, policy } = device;
      session.profile = profile;
      session.policy = policy;
      session.bucket = new TokenBucket({ ratePerSecond: policy.rate.perSecond, burst: policy.rate.burst, clock: this.#clock });
      const drops = this.#settings.throttleDropsBeforeDisconnect;
      session.tolerance = new TokenBucket({ ratePerSecond: drops / 10, burst: drops, clock: this.#clock });
      session.maxPacketBytes = maxPacketOf(policy);
    } else if (this.#deps.insecureTesting !== undefined) {
      session.maxPacketBytes = 268_435_455;
    }
    session.live = true;
    this.#sessions.set(deviceId, session);
    this.#bus.emit("gateway.connected", {
      device: deviceId,
      remote: session.remote,
      serial: session.serial,
      profile: session.profile?.id ?? null,
      tier: session.policy?.tier ?? (grants !== undefined ? "service" : "testing"),
    });
    if (session.legacy) this.#bus.emit("device.legacy_auth_used", { device: deviceId, remote: session.remote });
    return { ok: true };
  }

  /**
   * The per-PUBLISH gate (hot path): no I/O, no allocation on allow. Returns false when the
   * packet is dropped. Before CONNACK the packet goes on to `authorizePublish`, which checks
   * it in full.
   */
  #admitPublish(session: Session, packet: IncomingPacket): boolean {
    const policy = session.policy;
    if (policy === undefined) {
      if (session.grants !== undefined) {
        this.#emitDeniedReason(session, packet.topic, "service_read_only", "builtin:service-read-only", packet.qos);
        session.end("policy_violation", packet.topic);
        return false;
      }
      return true;
    }
    if (!session.client.connackSent) return true;
    const decision = evaluatePublish(policy, packet.topic, packet.qos, packet.retain, packet.payload.length);
    if (decision.effect === "deny") {
      this.#denyPublish(session, packet, decision);
      return false;
    }
    if (!(session.bucket as TokenBucket).take()) {
      this.#throttle(session, packet);
      return false;
    }
    const observer = this.#deps.observer;
    if (
      observer !== undefined &&
      !observer(policy.deviceId, packet.topic, packet.payload.length, this.#clock.now(), packet.payload)
    )
      return false;
    session.approved = packet;
    return true;
  }

  /**
   * aedes writes a QoS 1 PUBACK and only then routes the message (its `handlePublish`). With
   * Redis routing, a node killed between the two has acknowledged a message that no node will
   * ever deliver (the cluster's kill -9 test lost 1 of ~240 that way, in about one run of
   * three). Here the admitted message is routed first (stored for offline sessions, handed to
   * the router, which answers once Redis has it) and aedes's own publish of that packet after
   * the PUBACK becomes a no-op: the PUBACK then means what MQTT says, ownership taken.
   */
  #routeBeforeAck(broker: Aedes): void {
    const publish = broker.publish.bind(broker) as unknown as (
      packet: PublishPacket,
      client: Client | null,
      done: (error?: Error | null) => void,
    ) => void;
    const routed = new WeakSet<PublishPacket>();
    (broker as unknown as { publish: unknown }).publish = (
      packet: PublishPacket,
      client: Client | null | ((error?: Error | null) => void),
      done?: (error?: Error | null) => void,
    ): void => {
      const callback = typeof client === "function" ? client : done;
      if (routed.delete(packet)) return callback?.(null);
      publish(packet, typeof client === "function" ? null : client, callback ?? (() => undefined));
    };
    this.#routeFirst = (packet, client, done) =>
      publish(packet, client, (error) => {
        if (error) return done(error);
        routed.add(packet);
        done(null);
      });
  }

  /** Lets an admitted PUBLISH through: QoS 1 routed before its PUBACK when `#routeFirst` is set. */
  #admitted(client: Client, packet: PublishPacket, done: (error?: Error | null) => void): void {
    if (packet.qos !== 1 || this.#routeFirst === undefined) return done(null);
    this.#routeFirst(packet, client, done);
  }

  #authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    if (client === null) return done(null);
    const session = this.#sessionOf(client);
    if (session === undefined) return done(new Error("not authorized"));
    if (session.approved === packet) {
      session.approved = null;
      return this.#admitted(client, packet, done);
    }
    if (this.#deps.insecureTesting !== undefined) return done(packet.topic.startsWith("$") ? new Error("reserved topic") : null);
    const policy = session.policy;
    if (policy === undefined) return done(new Error("not authorized"));
    const isWill = packet === (client as AedesClientInternals).will;
    const decision = evaluatePublish(policy, packet.topic, packet.qos, packet.retain, packet.payload.length);
    if (decision.effect === "deny") {
      if (isWill) this.#emitDenied(session.device as DeviceId, "publish", packet.topic, decision, packet.qos);
      else this.#denyPublish(session, packet as unknown as IncomingPacket, decision);
      return done(new Error(decision.reason));
    }
    // A PUBLISH sent before CONNACK: counted like any other; over the rate here means more
    // than a whole burst before the session began, so it is treated as flooding.
    if (!isWill && !(session.bucket as TokenBucket).take()) {
      session.dropped++;
      this.#reportThrottle(session, packet.topic, this.#clock.now());
      session.end("rate_abuse", packet.topic);
      return done(new Error("rate exceeded"));
    }
    // A will is checked at CONNECT and published by aedes when the session ends: not routed now.
    if (isWill) return done(null);
    this.#admitted(client, packet, done);
  }

  #authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const session = this.#sessionOf(client);
    if (session === undefined || !session.live) return done(null, null);
    const testing = this.#deps.insecureTesting;
    if (testing !== undefined) {
      return done(null, sub.topic.startsWith("$") || testing.denySubscribe.includes(sub.topic) ? null : sub);
    }
    if (session.grants !== undefined) {
      if (session.grants.has(sub.topic)) return done(null, sub);
      this.#emitDeniedReason(session, sub.topic, "topic_not_allowed", "builtin:service-grants", sub.qos, "subscribe");
      return done(null, null);
    }
    const policy = session.policy as CompiledPolicy;
    const decision = evaluateSubscribe(policy, sub.topic, sub.qos);
    if (decision.effect === "allow") return done(null, sub);
    if (decision.reason === "qos_too_high" && "maxQos" in decision.rule) {
      // §3.9.3: the server may grant a lower QoS than asked.
      sub.qos = decision.rule.maxQos;
      return done(null, sub);
    }
    this.#emitDenied(session.device as DeviceId, "subscribe", sub.topic, decision, sub.qos);
    done(null, null); // SUBACK 0x80
  }

  // --- enforcement ------------------------------------------------------------------------

  #denyPublish(session: Session, packet: IncomingPacket, decision: DenyDecision): void {
    this.#emitDenied(session.device as DeviceId, "publish", packet.topic, decision, packet.qos);
    // [MQTT-3.3.5-2]: a PUBLISH the server will not accept: close the network connection.
    session.end("policy_violation", packet.topic);
  }

  #throttle(session: Session, packet: IncomingPacket): void {
    session.dropped++;
    session.lastDroppedTopic = packet.topic;
    const now = this.#clock.now();
    if (!(session.tolerance as TokenBucket).take()) {
      this.#reportThrottle(session, packet.topic, now);
      session.end("rate_abuse", packet.topic);
      return;
    }
    // [MQTT-3.3.5-2] allows a positive acknowledgement of a message that is then dropped.
    const id = packet.messageId;
    if (packet.qos > 0 && id !== undefined && !session.client.conn.destroyed) {
      session.client.conn.write(Buffer.from([packet.qos === 1 ? 0x40 : 0x50, 0x02, id >> 8, id & 0xff]));
    }
    if (now - session.lastThrottleReport >= REPORT_EVERY_MS) this.#reportThrottle(session, packet.topic, now);
  }

  #reportThrottle(session: Session, topic: string, now: number): void {
    if (session.dropped === 0) return;
    this.#bus.emit("gateway.throttled", {
      device: session.device as string,
      action: "publish",
      topic: topic.slice(0, SIGNAL_TOPIC_CHARS),
      reason: "rate_exceeded",
      dropped: session.dropped,
      ratePerSecond: session.policy?.rate.perSecond ?? 0,
    });
    session.dropped = 0;
    session.lastThrottleReport = now;
  }

  #oversize(session: Session, cmd: string, length: number): void {
    if (session.device !== undefined) {
      this.#emitDeniedReason(
        session,
        "",
        "packet_too_large",
        "builtin:packet-size",
        0,
        cmd === "subscribe" ? "subscribe" : "publish",
      );
    } else if (this.#shouldReport(`oversize|${session.remoteHost}`)) {
      this.#bus.emit("gateway.connect_refused", {
        device: null,
        reason: "packet_too_large",
        remote: session.remote,
        returnCode: 0,
      });
    }
    this.#log.debug(
      { device: session.device, remote: session.remote, cmd, length, limit: session.maxPacketBytes },
      "packet too large",
    );
    session.endReason ??= "packet_too_large";
  }

  #emitDenied(device: DeviceId, action: "publish" | "subscribe", topic: string, decision: DenyDecision, qos: number): void {
    this.#bus.emit("gateway.denied", {
      device,
      action,
      topic: topic.slice(0, SIGNAL_TOPIC_CHARS),
      reason: decision.reason,
      rule: decision.rule.id,
      qos,
    });
  }

  #emitDeniedReason(
    session: Session,
    topic: string,
    reason: string,
    rule: string,
    qos: number,
    action: "publish" | "subscribe" = "publish",
  ): void {
    this.#bus.emit("gateway.denied", {
      device: session.device as string,
      action,
      topic: topic.slice(0, SIGNAL_TOPIC_CHARS),
      reason,
      rule,
      qos,
    });
  }

  // --- session end ------------------------------------------------------------------------

  #clientError(client: Client, error: Error): void {
    const session = this.#sessionOf(client);
    if (session === undefined) return;
    const first = session.endReason === undefined;
    if (first) {
      const message = error.message;
      if (message === "keep alive timeout") session.endReason = "keepalive_timeout";
      else if (message === "connect did not arrive in time") session.endReason = "refused";
      else if (!/ECONNRESET|EPIPE|write after end|connection closed/.test(message)) session.endReason = "protocol_error";
    }
    if (
      first &&
      session.device === undefined &&
      session.endReason !== undefined &&
      this.#shouldReport(`error|${session.remoteHost}`)
    ) {
      const reason = error.message === "connect did not arrive in time" ? "connect_timeout" : "protocol_error";
      this.#bus.emit("gateway.connect_refused", { device: null, reason, remote: session.remote, returnCode: 0 });
    }
    this.#log.debug({ device: session.device, remote: session.remote, err: error.message }, "MQTT client error");
  }

  #closed(session: Session): void {
    session.closed = true;
    const device = session.device;
    if (device === undefined || !session.live) return;
    if (this.#sessions.get(device) === session) this.#sessions.delete(device);
    if (this.#stopping) return;
    if (session.dropped > 0) this.#reportThrottle(session, session.lastDroppedTopic, this.#clock.now());
    const reason = session.endReason ?? (session.client._disconnected ? "client_disconnected" : "connection_lost");
    this.#bus.emit("gateway.disconnected", {
      device,
      remote: session.remote,
      reason,
      topic: session.endTopic?.slice(0, SIGNAL_TOPIC_CHARS) ?? null,
    });
  }

  /** `identity.revoked`: cut the device's live session now, and any CONNECT in flight. */
  #revoked(device: string, serials: readonly string[]): void {
    const id = device as DeviceId;
    this.#revokedAt.set(id, this.#clock.now());
    if (this.#revokedAt.size > 10_000) {
      const oldest = this.#revokedAt.keys().next().value;
      if (oldest !== undefined) this.#revokedAt.delete(oldest);
    }
    const session = this.#sessions.get(id);
    if (session !== undefined && (serials.length === 0 || serials.includes(session.serial) || session.device === id)) {
      this.#sessions.delete(id);
      session.end("revoked");
      this.#log.info({ device: id, remote: session.remote }, "session cut: the device was revoked");
    }
  }

  #sweepNow(): void {
    const now = this.#clock.now();
    for (const session of this.#sessions.values()) {
      if (now >= session.notAfter) session.end("certificate_expired");
    }
    this.#limiter.prune(now);
    for (const [key, at] of this.#reportedAt) if (now - at > REPORT_EVERY_MS) this.#reportedAt.delete(key);
    for (const [device, at] of this.#revokedAt) if (now - at > 60_000) this.#revokedAt.delete(device);
  }

  /** At most one signal per key per second (floods of failed handshakes, connect timeouts). */
  #shouldReport(key: string): boolean {
    const now = this.#clock.now();
    const last = this.#reportedAt.get(key);
    if (last !== undefined && now - last < REPORT_EVERY_MS) return false;
    this.#reportedAt.set(key, now);
    return true;
  }

  #sessionOf(client: Client): Session | undefined {
    return (client as unknown as Record<symbol, Session | undefined>)[SESSION];
  }
}

/**
 * The largest MQTT packet a device's policy can allow: payload + topic + lengths + packet id,
 * and never under 8 KiB (SUBSCRIBE packets with several filters).
 */
function maxPacketOf(policy: CompiledPolicy): number {
  return Math.max(8 * 1024, policy.maxPayloadBytes + policy.limits.maxTopicBytes + 4);
}

function refusalError(code: number, message: string): AuthenticateError {
  const error = new Error(message) as AuthenticateError;
  error.returnCode = code;
  return error;
}

/** The stored PEM holds exactly these DER bytes (compared as base64, no parsing). */
function sameCertificate(pem: string, raw: Buffer): boolean {
  return pem.replace(/-----[^-]+-----|\s+/g, "") === raw.toString("base64");
}
