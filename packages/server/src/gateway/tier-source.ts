import type { DeviceId } from "../core/index.js";
import type { DeviceRecord } from "../identity/index.js";
import type { Tier } from "../policy/index.js";

/**
 * Port: which trust tier a device is in when it connects. The trust module will implement it
 * from the score; until then `DefaultTierSource` answers `standard`, `quarantine` for a device
 * whose state is `quarantined`, and whatever `set()` recorded (the gateway's `applyTier`).
 */
export interface TierSource {
  tierOf(device: DeviceRecord): Tier;
}

export class DefaultTierSource implements TierSource {
  readonly #overrides = new Map<DeviceId, Tier>();

  tierOf(device: DeviceRecord): Tier {
    if (device.state === "quarantined") return "quarantine";
    return this.#overrides.get(device.id) ?? "standard";
  }

  /** Records a tier decided elsewhere (quarantine, re-admission); `undefined` forgets it. */
  set(device: DeviceId, tier: Tier | undefined): void {
    if (tier === undefined) this.#overrides.delete(device);
    else this.#overrides.set(device, tier);
  }
}
