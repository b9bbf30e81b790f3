import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

/**
 * Port: a periodic job runs on one node of the cluster at a time. `run` calls `job` only if
 * this node holds (or could take) the lock named `name`; it resolves false when another
 * node holds it. A single node (no cluster) uses `localJobLock`, which always runs.
 */
export interface JobLock {
  run<T>(name: string, job: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
}

export const localJobLock: JobLock = {
  run: async (_name, job) => ({ ran: true, value: await job() }),
};

const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`;

/**
 * A job lock in Redis: `SET key token NX PX ttl` takes it, the token (random, per run) proves
 * ownership for the compare-and-delete that releases it and for the extension a long job
 * needs (every ttl/3). If a node dies, its lock expires after `ttlMs`. This is the single-
 * Redis lock of the Redis documentation, not Redlock: a job must stay idempotent, as a
 * paused node may outlive its lease.
 */
export class RedisJobLock implements JobLock {
  readonly #url: string;
  readonly #prefix: string;
  readonly #ttlMs: number;
  #redis: Redis | undefined;

  constructor(options: { url: string; prefix: string; ttlMs?: number }) {
    this.#url = options.url;
    this.#prefix = options.prefix;
    this.#ttlMs = options.ttlMs ?? 30_000;
  }

  async start(): Promise<void> {
    const redis = new Redis(this.#url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    redis.on("error", () => undefined);
    await redis.connect();
    this.#redis = redis;
  }

  async stop(): Promise<void> {
    await this.#redis?.quit().catch(() => undefined);
  }

  async run<T>(name: string, job: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    const redis = this.#redis;
    if (redis === undefined) throw new Error("job lock not started");
    const key = `${this.#prefix}:lock:${name}`;
    const token = randomBytes(16).toString("hex");
    if ((await redis.set(key, token, "PX", this.#ttlMs, "NX")) !== "OK") return { ran: false };
    const keep = setInterval(() => void redis.eval(EXTEND, 1, key, token, this.#ttlMs).catch(() => undefined), this.#ttlMs / 3);
    keep.unref();
    try {
      return { ran: true, value: await job() };
    } finally {
      clearInterval(keep);
      await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
    }
  }
}
