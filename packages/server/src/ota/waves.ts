import type { CampaignOptions } from "./ports.js";

/**
 * Staged rollout plan: the targets in a stable pseudo-random order (so that a canary is not
 * always the first devices by id, and the same campaign always plans the same way), a canary
 * of `canaryPercent` (at least one device when the percentage is above 0), then waves of
 * `wavePercent` of the fleet. Returns each device's wave number and the number of waves.
 */
export function planWaves(
  campaignId: string,
  devices: readonly string[],
  options: Pick<CampaignOptions, "canaryPercent" | "wavePercent">,
): { waveOf: Map<string, number>; waves: number } {
  const n = devices.length;
  const order = [...devices].sort((a, b) => fnv1a(`${campaignId}/${a}`) - fnv1a(`${campaignId}/${b}`) || (a < b ? -1 : 1));
  const canary = options.canaryPercent > 0 ? Math.min(n, Math.max(1, Math.ceil((n * options.canaryPercent) / 100))) : 0;
  const waveSize = Math.max(1, Math.ceil((n * options.wavePercent) / 100));
  const waveOf = new Map<string, number>();
  let waves = 0;
  order.forEach((device, i) => {
    const wave = i < canary ? 0 : (canary > 0 ? 1 : 0) + Math.floor((i - canary) / waveSize);
    waveOf.set(device, wave);
    waves = Math.max(waves, wave + 1);
  });
  return { waveOf, waves };
}

/** 32-bit FNV-1a: a stable shuffle key, not a security hash. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Is `now` inside the daily UTC window `start`-`end` (HH:MM; a window may wrap midnight)? No window: always. */
export function inMaintenanceWindow(window: CampaignOptions["window"], now: number): boolean {
  if (window === null) return true;
  const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const start = minutes(window.start);
  const end = minutes(window.end);
  const d = new Date(now);
  const at = d.getUTCHours() * 60 + d.getUTCMinutes();
  if (start === end) return true;
  return start < end ? at >= start && at < end : at >= start || at < end;
}

export interface HaltInput {
  readonly notified: number;
  readonly failed: number;
  readonly trustDrops: number;
}

/**
 * Should the campaign halt itself? Failures (and, separately, trust drops) among the devices
 * told to update since the last resume, as a share of those devices, above the threshold.
 * A threshold of 0 halts on the first failure.
 */
export function haltReason(
  input: HaltInput,
  options: Pick<CampaignOptions, "failureThresholdPercent" | "trustDropThresholdPercent">,
): "failures" | "trust_drop" | null {
  if (input.notified <= 0) return null;
  if (input.failed > 0 && (input.failed * 100) / input.notified > options.failureThresholdPercent) return "failures";
  if (input.trustDrops > 0 && (input.trustDrops * 100) / input.notified > options.trustDropThresholdPercent) return "trust_drop";
  return null;
}

/** A token bucket for notifications: `perMinute` sustained, a burst of one second's worth (at least 1). */
export class NotifyBudget {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  constructor(perMinute: number, now: number) {
    this.#perMs = perMinute / 60_000;
    this.#burst = Math.max(1, perMinute / 60);
    this.#tokens = this.#burst;
    this.#at = now;
  }

  /** How many notifications may go out now (and takes them). */
  take(wanted: number, now: number): number {
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) * this.#perMs);
    this.#at = now;
    const n = Math.min(wanted, Math.floor(this.#tokens));
    this.#tokens -= n;
    return n;
  }
}
