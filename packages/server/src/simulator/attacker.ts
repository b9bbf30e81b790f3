import { loadCredentials, type DeviceCredentials } from "@vigil/device-sdk";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";

/**
 * What an attacker's own tooling does on the wire: a plain MQTT.js client over TLS, with a
 * stolen device certificate or none, saying whatever client id and topics it likes. Attacks
 * go to the gateway like any device; the SDK is only for well-behaved firmware.
 */
export interface RawOutcome {
  /** CONNACK accepted. */
  readonly connected: boolean;
  /** CONNACK return code when refused (2 identifier rejected, 5 not authorised), or null. */
  readonly returnCode: number | null;
  /** TLS or socket error before any CONNACK (e.g. no client certificate). */
  readonly error: string | null;
  readonly client: MqttClient | undefined;
}

export function credentialsOf(dir: string): Promise<DeviceCredentials> {
  return loadCredentials(dir);
}

/** Opens one MQTT session (no reconnect), resolving with the outcome within `timeoutMs`. */
export function rawConnect(
  url: string,
  options: { creds?: DeviceCredentials; caPem: string; clientId: string; timeoutMs?: number },
): Promise<RawOutcome> {
  const opts: IClientOptions = {
    ca: options.caPem,
    clientId: options.clientId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: options.timeoutMs ?? 5_000,
    clean: true,
    ...(options.creds ? { key: options.creds.keyPem, cert: options.creds.certPem } : {}),
  };
  return new Promise((resolve) => {
    const client = mqtt.connect(url, opts);
    let settled = false;
    const finish = (outcome: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!outcome.connected) client.end(true);
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ connected: false, returnCode: null, error: "timeout", client: undefined }),
      (options.timeoutMs ?? 5_000) + 500,
    );
    client.on("connect", () => finish({ connected: true, returnCode: null, error: null, client }));
    client.on("error", (error: Error & { code?: unknown }) =>
      finish({
        connected: false,
        returnCode: typeof error.code === "number" ? error.code : null,
        error: typeof error.code === "number" ? null : error.message,
        client: undefined,
      }),
    );
    client.on("close", () => finish({ connected: false, returnCode: null, error: "closed", client: undefined }));
  });
}

/** Subscribes one filter and returns the granted QoS (128 = refused, [MQTT-3.9.3]). */
export function rawSubscribe(client: MqttClient, filter: string, timeoutMs = 3_000): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off("packetreceive", onPacket);
      resolve(null);
    }, timeoutMs);
    const onPacket = (packet: { cmd: string; granted?: unknown }) => {
      if (packet.cmd !== "suback") return;
      clearTimeout(timer);
      client.off("packetreceive", onPacket);
      const granted = Array.isArray(packet.granted) ? (packet.granted as unknown[]) : [];
      resolve(typeof granted[0] === "number" ? granted[0] : null);
    };
    client.on("packetreceive", onPacket);
    client.subscribe(filter, { qos: 0 }, () => undefined);
  });
}

/** Resolves true when the session is closed (by the gateway) within `timeoutMs`. */
export function closedWithin(client: MqttClient, timeoutMs: number): Promise<boolean> {
  if (client.disconnected || !client.connected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    client.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function endQuietly(client: MqttClient | undefined): Promise<void> {
  if (client === undefined) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2_000);
    client.end(true, {}, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
