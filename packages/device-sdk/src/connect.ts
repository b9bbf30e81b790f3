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
  /** Publishes on `devices/{device}/telemetry`. */
  publishTelemetry(payload: Buffer | string | object, options?: { qos?: Qos; retain?: boolean }): Promise<void>;
  /** Publishes on `devices/{device}/<subtopic>` (e.g. `events`), as the profile allows. */
  publish(subtopic: string, payload: Buffer | string | object, options?: { qos?: Qos; retain?: boolean }): Promise<void>;
  /** Subscribes `devices/{device}/<subtopic>` (e.g. `config`); kept across reconnects. */
  subscribe(subtopic: string, handler: (payload: Buffer, topic: string) => void, options?: { qos?: Qos }): Promise<void>;
  /** Commands from Vigil on the control channel `vigil/{device}/cmd`. */
  onCommand(handler: (payload: Buffer) => void): () => void;
  /** Answers on `vigil/{device}/ack`. */
  ack(payload: Buffer | string | object): Promise<void>;
  /** Renews the certificate now (needs `renewWith`) and reconnects with it. */
  renewNow(): Promise<DeviceCredentials | undefined>;
  /** Ends the session; waits for in-flight QoS 1 publishes unless `force` (then the socket is destroyed). */
  close(options?: { force?: boolean }): Promise<void>;
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
        resolve();
      };
      const onError = (error: Error) => {
        this.#client.off("connect", onConnect);
        this.#closing = true;
        this.#client.end(true);
        reject(
          new DeviceSdkError("SDK_CONNECT_REFUSED", `Vigil's gateway refused the connection: ${error.message}`, { cause: error }),
        );
      };
      this.#client.once("connect", onConnect);
      this.#client.once("error", onError);
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
    await this.#client.publishAsync(this.#topic("devices", subtopic), body(payload), {
      qos: options.qos ?? 0,
      retain: options.retain ?? false,
    });
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
    await this.#client.publishAsync(this.#topic("vigil", "ack"), body(payload), { qos: 1 });
  }

  async renewNow(): Promise<DeviceCredentials | undefined> {
    if (this.#renewer === undefined)
      throw new DeviceSdkError("SDK_NOT_ENROLLED", "renewNow() needs the renewWith option (Vigil's EST URL)");
    return this.#renewer.renewNow();
  }

  async close(options: { force?: boolean } = {}): Promise<void> {
    this.#closing = true;
    this.#renewer?.stop();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#client.endAsync(options.force === true);
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
      if (!this.#closing) this.#client.reconnect();
    }, delay);
    this.#timer.unref();
  }
}

function body(payload: Buffer | string | object): Buffer | string {
  return Buffer.isBuffer(payload) || typeof payload === "string" ? payload : JSON.stringify(payload);
}
