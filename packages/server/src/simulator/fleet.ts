import { mkdir } from "node:fs/promises";
import { caFingerprint, readFleetManifest, writeFleetManifest } from "./fleet-identities.js";
import { allocate, type MixName } from "./mixes.js";
import { createRandom, type Random } from "./random.js";
import type { SimTarget } from "./target.js";
import { VirtualDevice, deviceDir, type DeviceStats } from "./virtual-device.js";

export interface FleetOptions {
  readonly target: SimTarget;
  /** Where the devices keep their keys and certificates (one folder each). */
  readonly workDir: string;
  readonly seed?: number;
  /** Prefix of the device ids (default `sim`); ids are `<prefix>-<profile short>-<n>`. */
  readonly prefix?: string;
  /** Enrollments and connections in parallel (default 8): the machine's handshake rate is the ceiling. */
  readonly concurrency?: number;
  readonly dayLengthMs?: number;
  /** Benign oddities per device tick (default 0.0005 each); 0 turns them off. */
  readonly oddities?: { readonly reboot: number; readonly blip: number };
  /** Progress lines (enrollment, connection). */
  readonly onProgress?: (line: string) => void;
}

export interface FleetStats extends DeviceStats {
  readonly devices: number;
  readonly connected: number;
  readonly enrollFailures: number;
  readonly connectFailures: number;
  readonly byProfile: Record<string, number>;
}

const SHORT: Record<string, string> = {
  "environmental-sensor": "env",
  "infusion-pump": "pump",
  "ip-camera": "cam",
  "patient-monitor": "mon",
  plc: "plc",
  "smart-meter": "meter",
  "vehicle-telematics": "veh",
};

/**
 * A fleet of virtual devices: each one really enrolls (claim token, EST) and connects over
 * mutual TLS with the device SDK; nothing goes around the gateway.
 */
export class Fleet {
  readonly #o: FleetOptions;
  readonly #random: Random;
  readonly #devices = new Map<string, VirtualDevice>();
  /** Every device that enrolled (connected or not): what `saveIdentities()` writes. */
  readonly #enrolled: { id: string; profile: string }[] = [];
  #enrollFailures = 0;
  #connectFailures = 0;
  #started = 0;
  readonly runId: string;

  constructor(options: FleetOptions) {
    this.#o = options;
    this.#random = createRandom(options.seed ?? Date.now());
    this.runId = (options.seed ?? Date.now()).toString(36).slice(-5);
  }

  get target(): SimTarget {
    return this.#o.target;
  }

  get workDir(): string {
    return this.#o.workDir;
  }

  get random(): Random {
    return this.#random;
  }

  /** Enrolls and connects `n` more devices of the mix; resolves when they are sending. */
  async start(n: number, mix: MixName): Promise<VirtualDevice[]> {
    return this.#enrollAll(n, mix, true);
  }

  /**
   * Enrolls `n` more devices of the mix without connecting them (keys and certificates in
   * `workDir`): with `saveIdentities()`, how a benchmark prepares a fleet once.
   */
  async enroll(n: number, mix: MixName): Promise<number> {
    await this.#enrollAll(n, mix, false);
    return this.#enrolled.length;
  }

  async #enrollAll(n: number, mix: MixName, connect: boolean): Promise<VirtualDevice[]> {
    await mkdir(this.#o.workDir, { recursive: true, mode: 0o700 });
    const created: { device: VirtualDevice; token: string }[] = [];
    for (const [profile, count] of allocate(n, mix)) {
      const tokens = await this.#o.target.createTokens(profile, count);
      for (const token of tokens) {
        const id = `${this.#o.prefix ?? "sim"}-${this.runId}-${SHORT[profile] ?? profile}-${++this.#started}`;
        const device = this.createDevice(id, profile);
        created.push({ device, token });
      }
    }
    const ready: VirtualDevice[] = [];
    let done = 0;
    await pool(created, this.#o.concurrency ?? 8, async ({ device, token }) => {
      try {
        await device.enroll(token);
        this.#enrolled.push({ id: device.id, profile: device.profile });
      } catch (error) {
        this.#enrollFailures++;
        this.#o.onProgress?.(`enrollment of ${device.id} failed: ${(error as Error).message}`);
        return;
      }
      done++;
      if (connect) {
        try {
          await device.start();
          this.#devices.set(device.id, device);
          ready.push(device);
        } catch (error) {
          this.#connectFailures++;
          await device.stop();
          this.#o.onProgress?.(`connection of ${device.id} failed: ${(error as Error).message}`);
        }
      }
      const every = created.length > 1_000 ? 500 : 25;
      if (done % every === 0)
        this.#o.onProgress?.(`${done}/${created.length} devices enrolled${connect ? " and connected" : ""}`);
    });
    return ready;
  }

  /**
   * Writes the enrolled devices to `<workDir>/fleet.json` (their keys and certificates are
   * already in `<workDir>/devices/`): `startSaved()` in a later run connects them from disk.
   */
  async saveIdentities(): Promise<string> {
    return writeFleetManifest(this.#o.workDir, {
      version: 1,
      savedAt: new Date().toISOString(),
      apiUrl: this.#o.target.apiUrl,
      caSha256: caFingerprint(this.#o.target.caPem),
      devices: this.#enrolled,
    });
  }

  /**
   * Connects up to `limit` devices saved in `workDir` by an earlier run (`saveIdentities()`),
   * without enrolling; resolves when they are sending. Throws `CONFIG_INVALID` when there is
   * no saved fleet or it was enrolled with another Vigil.
   */
  async startSaved(limit = Number.POSITIVE_INFINITY): Promise<VirtualDevice[]> {
    const manifest = await readFleetManifest(this.#o.workDir, this.#o.target.caPem);
    const chosen = manifest.devices.filter((d) => !this.#devices.has(d.id)).slice(0, limit);
    const ready: VirtualDevice[] = [];
    let done = 0;
    await pool(chosen, this.#o.concurrency ?? 8, async ({ id, profile }) => {
      const device = this.createDevice(id, profile);
      try {
        await device.start();
        this.#devices.set(device.id, device);
        this.#enrolled.push({ id, profile });
        ready.push(device);
      } catch (error) {
        this.#connectFailures++;
        await device.stop();
        this.#o.onProgress?.(`connection of ${device.id} failed: ${(error as Error).message}`);
      }
      done++;
      if (done % 500 === 0) this.#o.onProgress?.(`${done}/${chosen.length} saved devices connected`);
    });
    return ready;
  }

  /** A device object (not enrolled, not started): scenarios use it for extra identities. */
  createDevice(id: string, profile: string): VirtualDevice {
    return new VirtualDevice({
      id,
      profile,
      dir: deviceDir(this.#o.workDir, id),
      target: this.#o.target,
      random: this.#random,
      ...(this.#o.dayLengthMs !== undefined ? { dayLengthMs: this.#o.dayLengthMs } : {}),
      ...(this.#o.oddities !== undefined ? { oddities: this.#o.oddities } : {}),
    });
  }

  devices(): VirtualDevice[] {
    return [...this.#devices.values()];
  }

  device(id: string): VirtualDevice | undefined {
    return this.#devices.get(id);
  }

  stats(): FleetStats {
    const total: DeviceStats = { sent: 0, bytes: 0, completed: 0, failed: 0, skipped: 0, reboots: 0, blips: 0, reconnects: 0 };
    const byProfile: Record<string, number> = {};
    let connected = 0;
    for (const d of this.#devices.values()) {
      for (const k of Object.keys(total) as (keyof DeviceStats)[]) total[k] += d.stats[k];
      byProfile[d.profile] = (byProfile[d.profile] ?? 0) + 1;
      if (d.connected) connected++;
    }
    return {
      ...total,
      devices: this.#devices.size,
      connected,
      enrollFailures: this.#enrollFailures,
      connectFailures: this.#connectFailures,
      byProfile,
    };
  }

  async stop(): Promise<void> {
    await pool([...this.#devices.values()], 32, (d) => d.stop());
  }
}

/** Runs `work` over `items` with at most `concurrency` at once. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}
