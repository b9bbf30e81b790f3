import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import type { Logger } from "../core/index.js";

/**
 * Port: a held lease. One holder at a time in the cluster keeps it for as long as it lives
 * (unlike `JobLock`, which is taken for one run): the node holding `ota.campaigns` runs the
 * campaign engine. `start` makes a first attempt before it resolves and keeps trying; it
 * calls `onChange(true)` when this node gains the lease and `onChange(false)` when it loses
 * it (never twice in a row with the same value, never concurrently). `stop` releases it.
 */
export interface LeaderLease {
  readonly name: string;
  readonly held: boolean;
  start(onChange: (held: boolean) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisLeaderLeaseOptions {
  readonly url: string;
  readonly prefix: string;
  readonly name: string;
  /** This node's id, stored as the lease's value next to a random token (for operators). */
  readonly nodeId: string;
  /** The lease expires this long after its holder's last renewal (a dead holder's lease is free again). */
  readonly ttlMs: number;
  readonly log: Logger;
}

const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`;

/**
 * A lease in Redis: `SET key value NX PX ttl` takes it; the holder renews it every ttl/3 with
 * a compare-and-`PEXPIRE` on its own value, and treats it as lost when a renewal finds another
 * value, or when it could not renew for 2/3 of the ttl (Redis unreachable: the key may expire
 * under it, so it stops before it does). Non-holders try every ttl/3. This is the single-Redis
 * lock of the Redis documentation, not Redlock: what runs under it must persist its state
 * before acting, so that a holder paused past its lease and its successor cannot undo each other.
 */
export class RedisLeaderLease implements LeaderLease {
  readonly #options: RedisLeaderLeaseOptions;
  readonly #key: string;
  readonly #value: string;
  #redis: Redis | undefined;
  #timer: NodeJS.Timeout | undefined;
  #onChange: ((held: boolean) => Promise<void>) | undefined;
  #attempt: Promise<void> | undefined;
  #held = false;
  /** performance.now() until which the lease is surely ours (last successful take or renewal + 2/3 ttl). */
  #safeUntil = 0;
  #stopped = false;

  constructor(options: RedisLeaderLeaseOptions) {
    this.#options = options;
    this.#key = `${options.prefix}:lease:${options.name}`;
    this.#value = `${options.nodeId}/${randomBytes(12).toString("hex")}`;
  }

  get name(): string {
    return this.#options.name;
  }

  get held(): boolean {
    return this.#held;
  }

  async start(onChange: (held: boolean) => Promise<void>): Promise<void> {
    this.#onChange = onChange;
    const redis = new Redis(this.#options.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    redis.on("error", () => undefined);
    await redis.connect();
    this.#redis = redis;
    await this.#tryOnce();
    this.#timer = setInterval(() => void this.#tryOnce(), Math.max(100, Math.floor(this.#options.ttlMs / 3)));
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#attempt;
    const redis = this.#redis;
    if (redis === undefined) return;
    if (this.#held) {
      this.#held = false;
      await redis.eval(RELEASE, 1, this.#key, this.#value).catch(() => undefined);
    }
    await redis.quit().catch(() => undefined);
  }

  /** One take-or-renew step; steps never overlap. */
  #tryOnce(): Promise<void> {
    if (this.#attempt !== undefined || this.#stopped) return this.#attempt ?? Promise.resolve();
    const run = (async () => {
      try {
        await this.#step();
      } catch (error) {
        this.#options.log.error({ err: error, lease: this.#options.name }, "lease step failed");
      } finally {
        this.#attempt = undefined;
      }
    })();
    this.#attempt = run;
    return run;
  }

  async #step(): Promise<void> {
    const redis = this.#redis;
    if (redis === undefined) return;
    const { ttlMs, name } = this.#options;
    const began = performance.now();
    if (this.#held) {
      let renewed: boolean | undefined;
      try {
        renewed = (await redis.eval(EXTEND, 1, this.#key, this.#value, ttlMs)) === 1;
      } catch {
        renewed = undefined; // Redis unreachable: still ours until #safeUntil
      }
      if (renewed === true) this.#safeUntil = began + (ttlMs * 2) / 3;
      if (renewed === false || (renewed === undefined && performance.now() >= this.#safeUntil)) {
        this.#held = false;
        this.#options.log.warn({ lease: name }, "lease lost");
        await this.#onChange?.(false);
      }
      return;
    }
    let taken = false;
    try {
      taken = (await redis.set(this.#key, this.#value, "PX", ttlMs, "NX")) === "OK";
    } catch {
      taken = false;
    }
    if (!taken || this.#stopped) {
      if (taken) await redis.eval(RELEASE, 1, this.#key, this.#value).catch(() => undefined);
      return;
    }
    this.#held = true;
    this.#safeUntil = began + (ttlMs * 2) / 3;
    this.#options.log.info({ lease: name }, "lease gained");
    await this.#onChange?.(true);
  }
}
