/**
 * New connections per second per source address: a token bucket per address (rate `perSecond`,
 * burst the same), checked on the raw TCP connection before any TLS work, so that one source
 * cannot spend the server's handshake CPU (~4 ms each) for everyone. Entries that are full
 * again are dropped by `prune()`, so the map holds only recently active sources.
 */
export class SourceLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #entries = new Map<string, Entry>();

  constructor(perSecond: number) {
    this.#perMs = perSecond / 1000;
    this.#burst = perSecond;
  }

  /** Takes one token for `source` at `now`; false when it has none left. */
  admit(source: string, now: number): boolean {
    let entry = this.#entries.get(source);
    if (entry === undefined) {
      entry = { tokens: this.#burst, last: now, refused: 0, lastReport: 0 };
      this.#entries.set(source, entry);
    } else {
      const elapsed = now - entry.last;
      entry.last = now;
      if (elapsed > 0) entry.tokens = Math.min(this.#burst, entry.tokens + elapsed * this.#perMs);
    }
    if (entry.tokens >= 1) {
      entry.tokens -= 1;
      return true;
    }
    entry.refused++;
    return false;
  }

  /**
   * For coalesced signals: the refusals of `source` not yet reported, when at least
   * `everyMs` passed since the last report (then resets the count); otherwise 0.
   */
  report(source: string, now: number, everyMs: number): number {
    const entry = this.#entries.get(source);
    if (entry === undefined || entry.refused === 0 || now - entry.lastReport < everyMs) return 0;
    const count = entry.refused;
    entry.refused = 0;
    entry.lastReport = now;
    return count;
  }

  /** Forgets sources whose bucket is full again and that have nothing left to report. */
  prune(now: number): void {
    for (const [source, entry] of this.#entries) {
      const tokens = entry.tokens + (now - entry.last) * this.#perMs;
      if (tokens >= this.#burst && entry.refused === 0) this.#entries.delete(source);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}

interface Entry {
  tokens: number;
  last: number;
  refused: number;
  lastReport: number;
}
