import type { Millis } from "./ids.js";

/** Time is injected (STYLE habit 6), so that expiry and windows are testable without sleeping. */
export interface Clock {
  now(): Millis;
}

export const systemClock: Clock = { now: () => Date.now() as Millis };

/** A clock for tests: starts where you say and moves only when told. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }
  now(): Millis {
    return this.#now as Millis;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
  set(at: number | Date): void {
    this.#now = typeof at === "number" ? at : at.getTime();
  }
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
