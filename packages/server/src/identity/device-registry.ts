import { VigilError, parseDeviceId, type Clock } from "../core/index.js";
import type { SignalBus } from "../signals/index.js";
import { newDeviceRecord, type DevicePage, type DeviceRecord, type DeviceRepository, type DeviceState } from "./ports.js";

/**
 * The fleet's device records. Enrollment (a later issue) creates devices as they arrive; an
 * operator may also pre-register one, which leaves it `pending` until it enrolls.
 */
export class DeviceRegistry {
  readonly #devices: DeviceRepository;
  readonly #bus: SignalBus;
  readonly #clock: Clock;

  constructor(deps: { devices: DeviceRepository; bus: SignalBus; clock: Clock }) {
    this.#devices = deps.devices;
    this.#bus = deps.bus;
    this.#clock = deps.clock;
  }

  count(): Promise<number> {
    return this.#devices.count();
  }

  list(query: {
    limit: number;
    after?: string | undefined;
    state?: DeviceState | undefined;
    sites?: readonly string[] | undefined;
  }): Promise<DevicePage> {
    return this.#devices.list(query);
  }

  /** The device; DEVICE_NOT_FOUND also when it is outside `sites` (a site's devices are invisible to others). */
  async get(rawId: string, sites?: readonly string[]): Promise<DeviceRecord> {
    const id = parseDeviceId(rawId);
    const found = id === undefined ? undefined : await this.#devices.get(id);
    const device = found !== undefined && (sites === undefined || sites.includes(found.site)) ? found : undefined;
    if (device === undefined) {
      throw new VigilError("DEVICE_NOT_FOUND", `no device with id ${JSON.stringify(rawId.slice(0, 128))}`, {
        hint: "List devices with `vigil devices list`.",
      });
    }
    return device;
  }

  async register(input: {
    id: string;
    profile?: string | null | undefined;
    site?: string | undefined;
    by: string;
  }): Promise<DeviceRecord> {
    const id = parseDeviceId(input.id);
    if (id === undefined) {
      throw new VigilError("DEVICE_ID_INVALID", `device id ${JSON.stringify(input.id.slice(0, 140))} is not valid`, {
        hint: "Use 1-128 characters: letters, digits, '.', '_' or '-', starting with a letter or digit.",
      });
    }
    const record = newDeviceRecord({
      id,
      profile: input.profile ?? null,
      createdAt: this.#clock.now(),
      ...(input.site === undefined ? {} : { site: input.site }),
    });
    try {
      await this.#devices.insert(record);
    } catch (error) {
      if (error instanceof VigilError && error.code === "STORE_CONFLICT") {
        throw new VigilError("DEVICE_EXISTS", `device ${id} is already registered`, { cause: error, hint: "Pick another id." });
      }
      throw error;
    }
    this.#bus.emit("device.registered", { device: id, profile: record.profile, by: input.by });
    return record;
  }
}
