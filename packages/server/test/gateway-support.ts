import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { join } from "node:path";
import { enroll, type DeviceCredentials } from "../../device-sdk/src/index.js";
import type { Platform } from "../src/app/index.js";
import type { SignalMap, SignalName } from "../src/signals/index.js";

/** Enrolls a device through EST with a claim token, as a real device would (via the SDK). */
export async function enrollDevice(
  platform: Platform,
  dir: string,
  deviceId: string,
  profile: string,
): Promise<DeviceCredentials> {
  const { tokens } = await platform.enrollment.createTokens({ profile, ttlSeconds: 600, count: 1, by: "test" });
  return enroll({
    server: platform.url,
    caPem: platform.ca,
    deviceId,
    dir: join(dir, deviceId),
    attestation: { kind: "claim-token", token: tokens[0]! },
  });
}

/** MQTT.js over mutual TLS with a device's credentials; no automatic reconnect. */
export function mqttOptions(creds: DeviceCredentials, extra: IClientOptions = {}): IClientOptions {
  return {
    key: creds.keyPem,
    cert: creds.certPem,
    ca: creds.caPem,
    clientId: creds.deviceId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...extra,
  };
}

export function connectDevice(url: string, creds: DeviceCredentials, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, mqttOptions(creds, extra));
}

/** Records every signal of the given names, for assertions. */
export function recordSignals(platform: Platform, names: readonly SignalName[]) {
  const seen: { name: SignalName; payload: SignalMap[SignalName] }[] = [];
  const offs = names.map((name) => platform.bus.on(name, (payload) => seen.push({ name, payload })));
  return {
    seen,
    of<K extends SignalName>(name: K): SignalMap[K][] {
      return seen.filter((s) => s.name === name).map((s) => s.payload as SignalMap[K]);
    },
    stop: () => offs.forEach((off) => off()),
  };
}

/** Polls `check` every 10 ms until it is true or `timeoutMs` passes (bounded; no timing assertion). */
export async function waitFor(check: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves when the client's connection is closed (or at once if it is). */
export function closedOf(client: MqttClient): Promise<void> {
  if (!client.connected && client.disconnected) return Promise.resolve();
  return new Promise((resolve) => client.once("close", () => resolve()));
}

/** A raw TLS socket with a device's certificate, for hand-made MQTT bytes. */
export function rawTls(port: number, creds: DeviceCredentials): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: "127.0.0.1", port, key: creds.keyPem, cert: creds.certPem, ca: creds.caPem, servername: "" },
      () => resolve(socket),
    );
    socket.once("error", reject);
  });
}

/** Resolves with everything the socket received once it closes (bounded by `timeoutMs`). */
export function untilClosed(socket: TLSSocket, timeoutMs = 5_000): Promise<{ closed: boolean; data: Buffer }> {
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ closed: false, data: Buffer.concat(chunks) }), timeoutMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve({ closed: true, data: Buffer.concat(chunks) });
    });
  });
}

/** The gateway's port from a platform. */
export function mqttPort(platform: Platform): number {
  return platform.gateway.port;
}
