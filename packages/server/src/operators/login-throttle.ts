import type { Clock } from "../core/index.js";

export interface ThrottleSettings {
  /** Failures allowed before the first lock. */
  readonly threshold: number;
  /** The first lock; each further failure doubles it, up to `maxLockMs`. */
  readonly baseLockMs: number;
  readonly maxLockMs: number;
  /** Failures older than this are forgotten (and an idle entry is dropped). */
  readonly windowMs: number;
  /** Most keys tracked per kind; the least recently failed are dropped first. */
  readonly maxEntries: number;
}

interface Entry {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

export interface LockState {
  readonly kind: "account" | "source";
  readonly until: number;
}

/** A bounded map from key to failure count, least recently failed first (Map keeps insertion order). */
class FailureTable {
  readonly #entries = new Map<string, Entry>();
  readonly #s: ThrottleSettings;

  constructor(settings: ThrottleSettings) {
    this.#s = settings;
  }

  get size(): number {
    return this.#entries.size;
  }

  lockedUntil(key: string, now: number): number {
    const e = this.#live(key, now);
    return e !== undefined && e.lockedUntil > now ? e.lockedUntil : 0;
  }

  fail(key: string, now: number): number {
    const e = this.#live(key, now) ?? { failures: 0, lastFailure: now, lockedUntil: 0 };
    e.failures++;
    e.lastFailure = now;
    if (e.failures >= this.#s.threshold) {
      const doublings = Math.min(e.failures - this.#s.threshold, 30);
      e.lockedUntil = now + Math.min(this.#s.maxLockMs, this.#s.baseLockMs * 2 ** doublings);
    }
    this.#entries.delete(key);
    this.#entries.set(key, e);
    while (this.#entries.size > this.#s.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return e.lockedUntil;
  }

  reset(key: string): void {
    this.#entries.delete(key);
  }

  #live(key: string, now: number): Entry | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (now - e.lastFailure > this.#s.windowMs && e.lockedUntil <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }
}

/**
 * Login throttling with exponential backoff, per account and per source address, in memory
 * and bounded. After `threshold` failures a key is locked for `baseLockMs`, doubling with
 * each further failure (OWASP ASVS 2.2.1). A success clears the account, not the source:
 * an attacker with one valid account cannot launder its guesses at others.
 */
export class LoginThrottle {
  readonly #accounts: FailureTable;
  readonly #sources: FailureTable;
  readonly #clock: Clock;

  constructor(settings: ThrottleSettings, clock: Clock) {
    this.#accounts = new FailureTable(settings);
    // A source may fail for several accounts (typos across a team behind one NAT): it gets
    // three times the account's allowance before its own lock.
    this.#sources = new FailureTable({ ...settings, threshold: settings.threshold * 3 });
    this.#clock = clock;
  }

  /** The lock in force for this attempt, if any. */
  check(username: string, source: string): LockState | undefined {
    const now = this.#clock.now();
    const account = this.#accounts.lockedUntil(accountKey(username), now);
    const src = this.#sources.lockedUntil(source, now);
    if (account === 0 && src === 0) return undefined;
    return account >= src ? { kind: "account", until: account } : { kind: "source", until: src };
  }

  /** Records a failure; returns the lock it caused, if any. */
  fail(username: string, source: string): LockState | undefined {
    const now = this.#clock.now();
    const account = this.#accounts.fail(accountKey(username), now);
    const src = this.#sources.fail(source, now);
    if (account === 0 && src === 0) return undefined;
    return account >= src ? { kind: "account", until: account } : { kind: "source", until: src };
  }

  succeed(username: string): void {
    this.#accounts.reset(accountKey(username));
  }

  get tracked(): { accounts: number; sources: number } {
    return { accounts: this.#accounts.size, sources: this.#sources.size };
  }
}

const accountKey = (username: string) => username.toLowerCase().slice(0, 64);
