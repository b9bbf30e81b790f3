/**
 * An exponentially decayed sum with time constant `tau` ms: `add(x, now)` is O(1) and
 * allocates nothing. A burst of N events within a fraction of `tau` reads ~N; a steady rate
 * r (per ms) settles at r x tau, so `value / tau` is the rate. Time going backwards decays
 * nothing.
 */
export class Decayed {
  value = 0;
  at = 0;
  tau: number;

  constructor(tau: number) {
    this.tau = tau;
  }

  /** Adds `x` at `now` and returns the decayed sum. */
  add(x: number, now: number): number {
    const v = this.get(now);
    this.value = v + x;
    return this.value;
  }

  /** The sum as of `now` (also moves the reference time forward). */
  get(now: number): number {
    const dt = now - this.at;
    if (dt > 0) {
      this.value = this.value === 0 ? 0 : this.value * Math.exp(-dt / this.tau);
      this.at = now;
    }
    return this.value;
  }

  /** Rate per second as of `now`. */
  perSecond(now: number): number {
    return (this.get(now) * 1000) / this.tau;
  }

  reset(now: number): void {
    this.value = 0;
    this.at = now;
  }
}
