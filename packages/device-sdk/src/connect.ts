import mqtt, { type ErrorWithReasonCode, type MqttClient } from "mqtt";
import { EventEmitter } from "node:events";
import { CertificateRenewer, loadCredentials, type DeviceCredentials } from "./enroll.js";
import { DeviceSdkError } from "./server-probe.js";

export interface ConnectOptions {
  /** Vigil's MQTT gateway, e.g. `mqtts://vigil.example:8883`. */
  readonly url: string;
  /** Where `enroll()` stored the device's key, certificate and CA. */
  readonly dir: string;
  /**
   * Vigil's EST base URL (`https://vigil.example:8443`): when given, the certificate is renewed
   * before it expires and the session reconnects with the new one.
   */
  readonly renewWith?: string;
  readonly keepaliveSeconds?: number;
  /** Reconnect backoff: first delay, doubled per failed attempt up to `maxMs`, with jitter. */
  readonly reconnect?: { readonly minMs?: number; readonly maxMs?: number };
  /** MQTT clean session (default true). */
  readonly clean?: boolean;
  readonly connectTimeoutMs?: number;
}

export type Qos = 0 | 1;

/** Events: `connect`, `close`, `error` (Error), `renewed` (DeviceCredentials). */
export interface DeviceConnection extends EventEmitter {
  readonly deviceId: string;
  readonly connected: boolean;
  /** The serial of the certificate the current session was opened with. */
  readonly serial: string;
  /** Publishes on `devices/{device}/telemetry` (see `publish`). */
  publishTelemetry(payload: Buffer | string | object, options?: { qos?: Qos; retain?: boolean }): Promise<void>;
  /**
   * Publishes on `devices/{device}/<subtopic>` (e.g. `events`), as the profile allows. QoS 1
   * resolves at the PUBACK; a publish made while the session is down goes out when it is back.
   * With a clean session (the default) a QoS 1 publish still unacknowledged when its session
   * is lost (cut by the gateway, network loss) rejects with `SDK_CONNECTION_LOST`: the new
   * session does not carry it, the caller decides whether to send it again.
   */
  publish(subtopic: string, payload: Buffer | string | object, options?: { qos?: Qos; retain?: boolean }): Promise<void>;
  /** Subscribes `devices/{device}/<subtopic>` (e.g. `config`); kept across reconnects. */
  subscribe(subtopic: string, handler: (payload: Buffer, topic: string) => void, options?: { qos?: Qos }): Promise<void>;
  /** Commands from Vigil on the control channel `vigil/{device}/cmd`. */
  onCommand(handler: (payload: Buffer) => void): () => void;
  /** Answers on `vigil/{device}/ack`. */
  ack(payload: Buffer | string | object): Promise<void>;
  /** Renews the certificate now (needs `renewWith`) and reconnects with it. */
  renewNow(): Promise<DeviceCredentials | undefined>;
  /**
   * Ends the session and stops reconnecting. Waits up to `drainMs` (default 3 s) for in-flight
   * QoS 1 publishes to be acknowledged, then sends DISCONNECT; with `force`, when the session
   * is down (mid-reconnect) or the wait runs out, the socket is destroyed at once and the
   * publishes still in flight reject with `SDK_CONNECTION_LOST`. Never leaves a socket or a
   * timer behind; a second call (e.g. with `force`) joins, and hastens, the first.
   */
  close(options?: { force?: boolean; drainMs?: number }): Promise<void>;
}

/**
 * Connects a device to Vigil's MQTT gateway over mutual TLS with its enrolled credentials
 * (client id = device id, as the gateway requires), subscribes its control channel, and
 * stays connected: reconnects with exponential backoff after a lost connection, and with the
 * new certificate after a renewal. A refusal at CONNECT (revoked, unknown certificate) is
 * final: `error` is emitted and no reconnect is tried.
 */
export async function connect(options: ConnectOptions): Promise<DeviceConnection> {
  const credentials = await loadCredentials(options.dir);
  const connection = new Connection(options, credentials);
  await connection.open();
  return connection;
}

class Connection extends EventEmitter implements DeviceConnection {
  readonly deviceId: string;
  readonly #options: ConnectOptions;
  readonly #client: MqttClient;
  readonly #subscriptions = new Map<string, { qos: Qos; handler: (payload: Buffer, topic: string) => void }>();
  readonly #commandHandlers = new Set<(payload: Buffer) => void>();
  readonly #renewer: CertificateRenewer | undefined;
  #serial: string;
  #attempts = 0;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  #refused = false;
  #reconnectNow = false;
  #closed: Promise<void> | undefined;
  #forceClose = false;
  #ending = false;

  constructor(options: ConnectOptions, credentials: DeviceCredentials) {
    super();
    this.#options = options;
    this.deviceId = credentials.deviceId;
    this.#serial = credentials.serial;
    this.#client = mqtt.connect(options.url, {
      manualConnect: true,
      clientId: credentials.deviceId,
      key: credentials.keyPem,
      cert: credentials.certPem,
      ca: credentials.caPem,
      protocolVersion: 4,
      clean: options.clean ?? true,
      keepalive: options.keepaliveSeconds ?? 60,
      connectTimeout: options.connectTimeoutMs ?? 15_000,
      reconnectPeriod: 0, // backoff is ours
      resubscribe: false, // so is resubscribing
    });
    this.#client.on("message", (topic, payload) => this.#dispatch(topic, payload));
    this.#client.on("connect", () => {
      this.#attempts = 0;
      for (const [topic, { qos }] of this.#subscriptions) this.#client.subscribe(topic, { qos }, () => undefined);
      this.emit("connect");
    });
    this.#client.on("error", (error: Error | ErrorWithReasonCode) => {
      // CONNACK refusals (2 identifier rejected, 4, 5 not authorized) will not change by retrying.
      const code = (error as ErrorWithReasonCode).code;
      if (typeof code === "number" && code >= 1 && code <= 5) this.#refused = true;
      if (this.listenerCount("error") > 0) this.emit("error", error);
    });
    this.#client.on("close", () => {
      // [MQTT-3.1.2-6]: with a clean session the server discards the lost session's state, so
      // what it did not acknowledge will never be: fail it now rather than leave it pending.
      if ((options.clean ?? true) && !this.#closing) this.#failInFlight();
      this.emit("close");
      this.#scheduleReconnect();
    });
    this.#subscriptions.set(this.#topic("vigil", "cmd"), { qos: 1, handler: (payload) => this.#command(payload) });
    if (options.renewWith !== undefined) {
      this.#renewer = new CertificateRenewer({
        server: options.renewWith,
        dir: options.dir,
        onRenewed: (renewed) => this.#renewed(renewed),
        onError: (error) => {
          if (this.listenerCount("error") > 0) this.emit("error", error);
        },
      });
    }
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  get serial(): string {
    return this.#serial;
  }

  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        this.#client.off("error", onError);
        this.#client.off("close", onClose);
        resolve();
      };
      const onError = (error: Error) => {
        this.#client.off("connect", onConnect);
        this.#client.off("close", onClose);
        this.#closing = true;
        if (this.#timer !== undefined) clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#client.end(true);
        reject(
          new DeviceSdkError("SDK_CONNECT_REFUSED", `Vigil's gateway refused the connection: ${error.message}`, { cause: error }),
        );
      };
      // Closed without an error event: e.g. no CONNACK within connectTimeoutMs (MQTT.js destroys the socket).
      const onClose = () => onError(new Error("the connection closed before CONNACK"));
      this.#client.once("connect", onConnect);
      this.#client.once("error", onError);
      this.#client.once("close", onClose);
      this.#client.connect();
    });
    await this.#renewer?.start();
  }

  publishTelemetry(payload: Buffer | string | object, options: { qos?: Qos; retain?: boolean } = {}): Promise<void> {
    return this.publish("telemetry", payload, options);
  }

  async publish(
    subtopic: string,
    payload: Buffer | string | object,
    options: { qos?: Qos; retain?: boolean } = {},
  ): Promise<void> {
    await this.#client
      .publishAsync(this.#topic("devices", subtopic), body(payload), {
        qos: options.qos ?? 0,
        retain: options.retain ?? false,
      })
      .catch(lost);
  }

  async subscribe(
    subtopic: string,
    handler: (payload: Buffer, topic: string) => void,
    options: { qos?: Qos } = {},
  ): Promise<void> {
    const topic = this.#topic("devices", subtopic);
    const qos = options.qos ?? 0;
    const granted = await this.#client.subscribeAsync(topic, { qos }).catch((error: unknown) => {
      throw new DeviceSdkError(
        "SDK_SUBSCRIBE_REFUSED",
        `Vigil refused the subscription to ${topic} (not in the device's policy)`,
        { cause: error },
      );
    });
    if (granted.some((g) => g.qos === 128))
      throw new DeviceSdkError("SDK_SUBSCRIBE_REFUSED", `Vigil refused the subscription to ${topic}`);
    this.#subscriptions.set(topic, { qos, handler });
  }

  onCommand(handler: (payload: Buffer) => void): () => void {
    this.#commandHandlers.add(handler);
    return () => this.#commandHandlers.delete(handler);
  }

  async ack(payload: Buffer | string | object): Promise<void> {
    await this.#client.publishAsync(this.#topic("vigil", "ack"), body(payload), { qos: 1 }).catch(lost);
  }

  async renewNow(): Promise<DeviceCredentials | undefined> {
    if (this.#renewer === undefined)
      throw new DeviceSdkError("SDK_NOT_ENROLLED", "renewNow() needs the renewWith option (Vigil's EST URL)");
    return this.#renewer.renewNow();
  }

  close(options: { force?: boolean; drainMs?: number } = {}): Promise<void> {
    if (options.force === true) {
      this.#forceClose = true;
      // A DISCONNECT already on its way: do not wait for the peer to close its side.
      if (this.#ending) this.#client.stream?.destroy();
    }
    this.#closed ??= this.#shutdown(options.drainMs ?? 3_000);
    return this.#closed;
  }

  async #shutdown(drainMs: number): Promise<void> {
    this.#closing = true;
    this.#renewer?.stop();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const client = this.#client;
    // In-flight QoS 1 publishes first (bounded). MQTT.js's own end(false) would wait for them
    // without limit, and a later end(true) is then a no-op: never call it with any in flight.
    const deadline = Date.now() + drainMs;
    for (let i = 0; i < 10_000 && !this.#forceClose && client.connected && inFlight(client) > 0; i++) {
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!this.#forceClose && client.connected && inFlight(client) === 0) {
      // [MQTT-3.14.4-1]: DISCONNECT, then the network connection is closed. Bounded too: a peer
      // that never closes its side gets its socket destroyed.
      this.#ending = true;
      const ended = client.endAsync(false);
      const timer = setTimeout(() => client.stream?.destroy(), 2_000);
      try {
        await ended;
      } finally {
        clearTimeout(timer);
      }
      return;
    }
    this.#failInFlight();
    await client.endAsync(true);
  }

  /** Drops the QoS 1 publishes waiting for a PUBACK: their promises reject with SDK_CONNECTION_LOST. */
  #failInFlight(): void {
    for (const [id, entry] of Object.entries(this.#client.outgoing))
      if (entry.cmd === "publish") this.#client.removeOutgoingMessage(Number(id));
  }

  #topic(namespace: "devices" | "vigil", subtopic: string): string {
    return `${namespace}/${this.deviceId}/${subtopic}`;
  }

  #dispatch(topic: string, payload: Buffer): void {
    this.#subscriptions.get(topic)?.handler(payload, topic);
  }

  #command(payload: Buffer): void {
    for (const handler of this.#commandHandlers) handler(payload);
  }

  /** A renewed certificate: the next TLS handshake presents it; reconnect now to use it. */
  #renewed(credentials: DeviceCredentials): void {
    this.#client.options.cert = credentials.certPem;
    this.#client.options.key = credentials.keyPem;
    this.#serial = credentials.serial;
    this.emit("renewed", credentials);
    this.#reconnectNow = true;
    this.#client.stream?.destroy();
  }

  #scheduleReconnect(): void {
    if (this.#closing || this.#refused || this.#timer !== undefined) return;
    const min = this.#options.reconnect?.minMs ?? 500;
    const max = this.#options.reconnect?.maxMs ?? 60_000;
    const delay = this.#reconnectNow ? 0 : Math.min(max, min * 2 ** Math.min(this.#attempts, 16)) * (0.5 + Math.random() / 2);
    this.#reconnectNow = false;
    this.#attempts++;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // The same stores: a publish made while the session was down goes out on the new one
      // (MQTT.js's reconnect() without them would drop the packets but keep their callbacks).
      if (!this.#closing)
        this.#client.reconnect({ incomingStore: this.#client.incomingStore, outgoingStore: this.#client.outgoingStore });
    }, delay);
    this.#timer.unref();
  }
}

/** MQTT.js's errors for a publish dropped with its session ("Message removed", "Connection closed"), as the SDK's. */
function lost(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  if (message === "Message removed" || message === "Connection closed")
    throw new DeviceSdkError("SDK_CONNECTION_LOST", "the session was lost before Vigil acknowledged the publish", {
      cause: error,
    });
  throw error;
}

/** QoS 1 publishes MQTT.js is waiting a PUBACK for. */
function inFlight(client: MqttClient): number {
  let n = 0;
  for (const entry of Object.values(client.outgoing)) if (entry.cmd === "publish") n++;
  return n;
}

function body(payload: Buffer | string | object): Buffer | string {
  return Buffer.isBuffer(payload) || typeof payload === "string" ? payload : JSON.stringify(payload);
}
