import type { DeviceRecord, DeviceRepository } from "../identity/index.js";
import type { Tier } from "../policy/index.js";
import type { FleetDirectory } from "./ports.js";

/**
 * The fleet from the device repository: active devices page by page. Tags have no store yet,
 * so `tagsOf` is given only when a source is; tiers come from the trust module's port when wired.
 */
export function repositoryFleet(
  devices: DeviceRepository,
  options: { tagsOf?: (device: DeviceRecord) => readonly string[]; tierOf?: (device: DeviceRecord) => Tier } = {},
): FleetDirectory {
  return {
    async *activeDevices() {
      let after: string | undefined;
      for (let pages = 0; pages < 1_000_000; pages++) {
        const page = await devices.list({ limit: 1000, state: "active", ...(after !== undefined ? { after } : {}) });
        yield* page.items;
        if (page.next === null) return;
        after = page.next;
      }
    },
    ...(options.tagsOf !== undefined ? { tagsOf: options.tagsOf } : {}),
    ...(options.tierOf !== undefined ? { tierOf: options.tierOf } : {}),
  };
}
