import type { OtaReport } from "@vigil/contract";
import { OtaAgent, connect, enroll, type DeviceConnection, type FirmwareSlots, type OtaOutcome } from "@vigil/device-sdk";
import { join } from "node:path";
import { behaviourOf, type Behaviour, type OutgoingMessage } from "./behaviours.js";
import type { Random } from "./random.js";
import type { SimTarget } from "./target.js";

export interface DeviceStats {
  /** Messages handed to the SDK. */
  sent: number;
  /** Bytes of payload handed to the SDK. */
  bytes: number;
  /** Publishes the SDK completed (written for QoS 0, PUBACK for QoS 1). */
  completed: number;
  /** Publishes that failed (connection lost before completion...). */
  failed: number;
  /** Ticks skipped because the device was offline with too much in flight. */
  skipped: number;
  reboots: number;
  blips: number;
  /** Sessions opened after the first one (reboots, blips, takeovers, rate-abuse disconnects). */
  reconnects: number;
}

export interface VirtualDeviceOptions {
  readonly id: string;
  readonly profile: string;
  /** Where the device keeps its key and certificate (the SDK's `dir`). */
  readonly dir: string;
  readonly target: SimTarget;
  readonly random: Random;
  /** Length of a simulated day in ms (default 10 minutes), for the diurnal pattern. */
  readonly dayLengthMs?: number;
  /** Probability per tick of a benign reboot and of a network blip (default 0.0005 each). */
  readonly oddities?: { readonly reboot: number; readonly blip: number };
  readonly firmwareVersion?: string;
}

/** At most this many publishes in flight per device; beyond it a tick is skipped (bounded memory). */
const MAX_IN_FLIGHT = 50;

/**
 * One simulated device: it enrolls with a claim token and connects over mutual TLS through
 * the device SDK, exactly as a real device would, then sends its profile's telemetry on a
 * jittered timer until stopped. Scenarios may `suspend()` it (its firmware taken over), send
 * through its connection, or set a drift.
 */
export class VirtualDevice {
  readonly id: string;
  readonly profile: string;
  readonly dir: string;
  readonly behaviour: Behaviour;
  readonly stats: DeviceStats = { sent: 0, bytes: 0, completed: 0, failed: 0, skipped: 0, reboots: 0, blips: 0, reconnects: 0 };
  /** Behaviour drift (0..1), set by the drift scenario. */
  drift = 0;
  readonly #o: VirtualDeviceOptions;
  #connection: DeviceConnection | undefined;
  /** The session being opened: one at a time, and closing waits for it (else it would outlive the close). */
  #opening: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #suspended = false;
  #seq = 0;
  #inFlight = 0;
  #sessions = 0;
  #busy: Promise<void> | undefined;
  #ota: OtaAgent | undefined;
  /** What the OTA agent reported (at most 100), once `enableOta()` was called. */
  readonly otaReports: OtaReport[] = [];

  constructor(options: VirtualDeviceOptions) {
    this.#o = options;
    this.id = options.id;
    this.profile = options.profile;
    this.dir = options.dir;
    this.behaviour = behaviourOf(options.profile);
  }

  get connected(): boolean {
    return this.#connection?.connected === true;
  }

  /** The SDK connection (scenarios send through it as the device's compromised firmware would). */
  get connection(): DeviceConnection | undefined {
    return this.#connection;
  }

  /** Enrolls over EST with a claim token (RFC 7030 simpleenroll through the SDK). */
  async enroll(token: string): Promise<void> {
    await enroll({
      server: this.#o.target.apiUrl,
      caPem: this.#o.target.caPem,
      deviceId: this.id,
      dir: this.dir,
      attestation: { kind: "claim-token", token },
      posture: { profile: this.profile, firmwareVersion: this.firmwareVersion },
    });
  }

  /**
   * Starts the device SDK's OTA agent (once): it listens on the control channel, verifies
   * any update against Vigil's signed metadata before installing it into simulated A/B
   * slots, and reports every step on the ack topic. Firmware scenarios use it.
   */
  async enableOta(): Promise<OtaAgent> {
    if (this.#ota !== undefined) return this.#ota;
    this.#ota = await OtaAgent.open({
      server: this.#o.target.apiUrl,
      dir: this.dir,
      profile: this.profile,
      hardware: "sim-rev-a",
      currentVersion: this.firmwareVersion,
      slots: new SimulatedSlots(),
      report: async (report) => {
        if (this.otaReports.length < 100) this.otaReports.push(report);
        await this.#connection?.ack(report);
      },
    });
    return this.#ota;
  }

  /**
   * A command reaching the device's firmware other than through Vigil's control channel (a
   * local maintenance port, a compromised neighbour on its bus): what the firmware scenarios
   * use to put a forged update command in front of the OTA agent. Resolves with its outcome.
   */
  async deliverCommand(payload: Buffer): Promise<OtaOutcome | undefined> {
    return this.#ota?.handle(payload);
  }

  /** The firmware version the device runs (its OTA agent's, once enabled). */
  get firmwareVersion(): string {
    return this.#ota?.version ?? this.#o.firmwareVersion ?? "1.4.2";
  }

  /** Opens the MQTT session and starts sending. */
  async start(): Promise<void> {
    this.#running = true;
    await this.#open();
    this.#schedule(this.#o.random.next() * this.behaviour.periodMs);
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#busy?.catch(() => undefined);
    await this.#close();
  }

  /** Stops the normal behaviour and closes the session (a scenario takes the device over). */
  async suspend(): Promise<void> {
    this.#suspended = true;
    await this.#busy?.catch(() => undefined);
    await this.#close();
  }

  /** Reconnects and resumes the normal behaviour after `suspend()`. */
  async resume(): Promise<void> {
    this.#suspended = false;
    if (this.#running) await this.#open().catch(() => undefined);
  }

  /** Sends one message through the SDK, counting it; never throws, never blocks the caller's loop. */
  send(message: OutgoingMessage | { subtopic: string; payload: Buffer | string | Record<string, unknown>; qos: 0 | 1 }): boolean {
    const connection = this.#connection;
    if (connection === undefined || this.#inFlight >= MAX_IN_FLIGHT) {
      this.stats.skipped++;
      return false;
    }
    const body =
      Buffer.isBuffer(message.payload) || typeof message.payload === "string" ? message.payload : JSON.stringify(message.payload);
    this.stats.sent++;
    this.stats.bytes += Buffer.byteLength(body);
    this.#inFlight++;
    connection.publish(message.subtopic, body, { qos: message.qos }).then(
      () => {
        this.#inFlight--;
        this.stats.completed++;
      },
      () => {
        this.#inFlight--;
        this.stats.failed++;
      },
    );
    return true;
  }

  /** Turns the device off and on again: session closed, back after `downMs`, a boot notice. */
  async reboot(downMs = 1_000): Promise<void> {
    this.stats.reboots++;
    await this.#close();
    await sleep(downMs);
    if (!this.#running || this.#suspended) return;
    this.#seq = 0;
    await this.#open().catch(() => undefined);
    if (this.behaviour.bootTopic !== undefined)
      this.send({ subtopic: this.behaviour.bootTopic, qos: 1, payload: { ts: Date.now(), event: "boot", reason: "watchdog" } });
  }

  /** A short loss of connectivity: the session drops and comes back after `downMs`. */
  async blip(downMs = 300): Promise<void> {
    this.stats.blips++;
    await this.#close();
    await sleep(downMs);
    if (this.#running && !this.#suspended) await this.#open().catch(() => undefined);
  }

  #open(): Promise<void> {
    if (this.#connection !== undefined) return Promise.resolve();
    this.#opening ??= this.#connect().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #connect(): Promise<void> {
    const connection = await connect({
      url: this.#o.target.mqttUrl,
      dir: this.dir,
      keepaliveSeconds: 30,
      reconnect: { minMs: 250, maxMs: 5_000 },
    });
    connection.on("error", () => undefined);
    connection.on("connect", () => {
      this.#sessions++;
      if (this.#sessions > 1) this.stats.reconnects++;
    });
    connection.onCommand((payload) => {
      // With its OTA agent on, commands go to it (it answers on the ack topic); otherwise an echo.
      if (this.#ota !== undefined) void this.#ota.handle(payload).catch(() => undefined);
      else void connection.ack({ ok: true, echo: payload.toString("utf8").slice(0, 64) }).catch(() => undefined);
    });
    this.#sessions++;
    if (this.#sessions > 1) this.stats.reconnects++;
    this.#connection = connection;
  }

  async #close(): Promise<void> {
    await this.#opening?.catch(() => undefined);
    const connection = this.#connection;
    this.#connection = undefined;
    // The SDK's close is bounded (in-flight publishes get 3 s, the DISCONNECT 2 s); force is a second belt.
    if (connection !== undefined)
      await withTimeout(connection.close(), 6_000).catch(() => connection.close({ force: true }).catch(() => undefined));
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => this.#tick(), delayMs);
  }

  #tick(): void {
    this.#timer = undefined;
    if (!this.#running) return;
    const period = this.behaviour.periodMs;
    if (!this.#suspended && this.#busy === undefined) {
      const random = this.#o.random;
      const odd = this.#o.oddities ?? { reboot: 0.0005, blip: 0.0005 };
      if (random.chance(odd.reboot)) this.#run(this.reboot(random.int(500, 2_000)));
      else if (random.chance(odd.blip)) this.#run(this.blip(random.int(100, 800)));
      else {
        const dayLength = this.#o.dayLengthMs ?? 600_000;
        const now = Date.now();
        const messages = this.behaviour.tick({
          deviceId: this.id,
          random,
          dayPhase: (now % dayLength) / dayLength,
          seq: this.#seq++,
          now,
          drift: this.drift,
        });
        for (const m of messages) this.send(m);
      }
    }
    this.#schedule(period * (0.8 + 0.4 * this.#o.random.next()));
  }

  #run(work: Promise<void>): void {
    this.#busy = work.finally(() => {
      this.#busy = undefined;
    });
  }
}

/** Two firmware slots in memory: writes go to the inactive one, activation swaps, the boot check passes. */
class SimulatedSlots implements FirmwareSlots {
  /** The slot that runs (0 or 1). */
  active = 0;
  readonly written: string[] = [];
  async write(_image: Buffer, target: { readonly version: string }): Promise<void> {
    this.written.push(target.version);
  }
  async activate(): Promise<boolean> {
    this.active ^= 1;
    return true;
  }
  async revert(): Promise<void> {
    this.active ^= 1;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function deviceDir(root: string, id: string): string {
  return join(root, "devices", id);
}
