import type { Clock } from "../core/index.js";

/**
 * A token bucket (rate per second, size `burst`), refilled lazily from the injected clock on
 * each call: O(1), no timers, no allocation, so the gateway can keep one per device. It
 * starts full. Time that goes backwards (a wall clock stepped back) refills nothing; inject
 * a monotonic `Clock` where that matters.
 */
export class TokenBucket {
  readonly #clock: Clock;
  #ratePerMs: number;
  #burst: number;
  #tokens: number;
  #last: number;

  constructor(options: { readonly ratePerSecond: number; readonly burst: number; readonly clock: Clock }) {
    checkRate(options.ratePerSecond, options.burst);
    this.#clock = options.clock;
    this.#ratePerMs = options.ratePerSecond / 1000;
    this.#burst = options.burst;
    this.#tokens = options.burst;
    this.#last = options.clock.now();
  }

  /** Takes `n` tokens if there are that many, and says whether it did. */
  take(n = 1): boolean {
    if (!(n > 0)) throw new RangeError(`TokenBucket.take(n): n must be > 0, got ${n}`);
    this.#refill();
    // Refills are float arithmetic: 10 x 100 ms at 1/s may sum to 0.9999999999999999.
    if (this.#tokens + EPSILON < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Tokens available now (fractional). */
  available(): number {
    this.#refill();
    return this.#tokens;
  }

  /**
   * Applies a new rate and size (a tier change on a live session) without resetting: tokens
   * earned so far at the old rate are kept, up to the new size.
   */
  reconfigure(ratePerSecond: number, burst: number): void {
    checkRate(ratePerSecond, burst);
    this.#refill();
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    if (this.#tokens > burst) this.#tokens = burst;
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = now - this.#last;
    this.#last = now;
    if (elapsed <= 0) return;
    const tokens = this.#tokens + elapsed * this.#ratePerMs;
    this.#tokens = tokens < this.#burst ? tokens : this.#burst;
  }
}

const EPSILON = 1e-9;

function checkRate(ratePerSecond: number, burst: number): void {
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
    throw new RangeError(`TokenBucket: ratePerSecond must be a positive finite number, got ${ratePerSecond}`);
  }
  if (!(burst >= 1) || !Number.isFinite(burst)) {
    throw new RangeError(`TokenBucket: burst must be a finite number >= 1, got ${burst}`);
  }
}
