import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { connect, type ConnectOptions, type DeviceConnection } from "./connect.js";
import { enroll, loadCredentials, type DeviceCredentials, type Posture } from "./enroll.js";
import { DeviceSdkError } from "./server-probe.js";

/** The key file `enroll()` keeps in the device's directory. */
const KEY_FILE = "device.key";

export interface ReprovisionOptions {
  /** Vigil's EST base URL. */
  readonly server: string;
  /** The device's directory (key, certificate, CA). */
  readonly dir: string;
  /** The one-time claim token Vigil sent on the control channel (bound to this device). */
  readonly token: string;
  readonly posture?: Posture;
  readonly curve?: "P-256" | "P-384";
  readonly timeoutMs?: number;
}

/**
 * Re-provisioning with fresh keys: the old key (whose certificate Vigil revoked) is retired, a
 * NEW key pair is generated on the device, and the device enrolls again (RFC 7030
 * simpleenroll) with the one-time token; Vigil refuses a key the device used before. On
 * success the old key is deleted; on failure it is put back so that the device's files stay
 * consistent (its certificate is revoked anyway; an operator can hand it another token).
 */
export async function reprovision(options: ReprovisionOptions): Promise<DeviceCredentials> {
  const current = await loadCredentials(options.dir);
  const keyFile = join(options.dir, KEY_FILE);
  const retired = `${keyFile}.retired`;
  await rename(keyFile, retired);
  try {
    const credentials = await enroll({
      server: options.server,
      caPem: current.caPem,
      deviceId: current.deviceId,
      dir: options.dir,
      attestation: { kind: "claim-token", token: options.token },
      ...(options.posture === undefined ? {} : { posture: options.posture }),
      ...(options.curve === undefined ? {} : { curve: options.curve }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    await rm(retired, { force: true });
    return credentials;
  } catch (error) {
    if (existsSync(keyFile)) await rm(keyFile, { force: true });
    await rename(retired, keyFile);
    throw error;
  }
}

export interface ReprovisionAgentOptions {
  readonly server: string;
  readonly dir: string;
  readonly posture?: Posture;
  /** How to reconnect once re-provisioned (url, backoff...); `dir` is the agent's. */
  readonly connect: Omit<ConnectOptions, "dir">;
}

/**
 * Listens on the control channel for `{type: "reprovision", ref, token}`, acknowledges it on
 * the ack topic (`{type, ref, state: "received"}`) before Vigil revokes the old certificate,
 * waits for the session to end, re-provisions with a fresh key and connects again.
 * Events: `reprovisioned` (DeviceConnection, DeviceCredentials), `error` (Error).
 */
export class ReprovisionAgent extends EventEmitter {
  readonly #options: ReprovisionAgentOptions;
  #busy = false;

  constructor(options: ReprovisionAgentOptions) {
    super();
    this.#options = options;
  }

  attach(connection: DeviceConnection): () => void {
    return connection.onCommand((payload) => {
      let command: { type?: unknown; ref?: unknown; token?: unknown };
      try {
        command = JSON.parse(payload.toString("utf8")) as typeof command;
      } catch {
        return;
      }
      if (command.type !== "reprovision" || typeof command.token !== "string" || typeof command.ref !== "string") return;
      if (this.#busy) return;
      this.#busy = true;
      void this.#run(connection, command.ref, command.token).finally(() => (this.#busy = false));
    });
  }

  async #run(old: DeviceConnection, ref: string, token: string): Promise<void> {
    try {
      await old.ack({ type: "reprovision", ref, state: "received" });
      // The server revokes the old certificate once acknowledged: the old session is done.
      await old.close().catch(() => undefined);
      const credentials = await reprovision({
        server: this.#options.server,
        dir: this.#options.dir,
        token,
        ...(this.#options.posture === undefined ? {} : { posture: this.#options.posture }),
      });
      const connection = await connect({ ...this.#options.connect, dir: this.#options.dir });
      this.attach(connection);
      this.emit("reprovisioned", connection, credentials);
    } catch (error) {
      const e = error instanceof Error ? error : new DeviceSdkError("SDK_BAD_RESPONSE", String(error));
      if (this.listenerCount("error") > 0) this.emit("error", e);
    }
  }
}
