// Support for the multi-node tests: the real Redis and NATS of this machine, gateway nodes
// in child processes (killable with SIGKILL), and a control node (a full Platform).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { TestContext } from "node:test";
import { Redis } from "ioredis";
import { joinCluster } from "../src/app/index.js";
import { repoRoot, startPlatform, tempDir, type TestPlatform } from "./support.js";

export const REDIS = { host: "127.0.0.1", port: 6379 };
export const NATS_URL = "nats://127.0.0.1:4222";

/** A short random suffix, so that tests sharing Redis and PostgreSQL never share names. */
export const suffix = (): string => randomBytes(3).toString("hex");

/** Polls an async condition (bounded). */
export async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Cleanup bounded in time: a stop that hangs fails the test instead of hanging the suite. */
export async function bounded(what: string, work: () => Promise<void>, ms = 30_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([work(), limit]);
  } finally {
    clearTimeout(timer);
  }
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Skips (or, in CI, fails) when Redis (and NATS if asked) is not running here. */
export async function needServices(t: TestContext, what: { nats?: boolean } = {}): Promise<boolean> {
  const missing: string[] = [];
  if (!(await reachable(6379))) missing.push("Redis on 127.0.0.1:6379");
  if (what.nats === true && !(await reachable(4222))) missing.push("NATS on 127.0.0.1:4222");
  if (missing.length === 0) return true;
  const reason = `${missing.join(" and ")} not running (see DEVELOPERS.md)`;
  if (process.env.CI === "true") assert.fail(`CI must have them: ${reason}`);
  t.skip(reason);
  return false;
}

/** A Redis database of its own for one test (emptied before and after). */
export async function redisDb(db: number): Promise<{ url: string; clean(): Promise<void> }> {
  const redis = new Redis({ ...REDIS, db, lazyConnect: true });
  await redis.connect();
  await redis.flushdb();
  return {
    url: `redis://127.0.0.1:6379/${db}`,
    clean: async () => {
      await redis.flushdb();
      await redis.quit();
    },
  };
}

export interface ChildNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  /** Every JSON line the node printed (signals seen, decisions applied). */
  readonly lines: Record<string, unknown>[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts a gateway node in a child process on a free loopback port. */
export async function startChildNode(options: {
  name: string;
  control: TestPlatform;
  redisUrl: string;
  prefix: string;
  transport?: "redis" | "nats";
  services?: Record<string, string[]>;
  /** The cluster's PostgreSQL store (the control node's); absent: the control node's SQLite file. */
  postgresUrl?: string;
}): Promise<ChildNode> {
  const dir = tempDir("vigil-node-").path;
  await joinCluster(options.control.platform.config.dataDir, dir, { withMasterKey: true });
  const input = {
    dataDir: dir,
    ...(options.postgresUrl !== undefined
      ? { postgresUrl: options.postgresUrl }
      : { sqliteFile: join(options.control.platform.config.dataDir, "vigil.db") }),
    cluster: {
      nodeId: options.name,
      role: "gateway",
      transport: options.transport ?? "redis",
      redisUrl: options.redisUrl,
      natsUrl: NATS_URL,
      prefix: options.prefix,
      presenceTtlMs: 2000,
    },
    services: options.services,
  };
  const child = spawn(
    process.execPath,
    [
      "--conditions=vigil-source",
      "--import",
      "tsx",
      join(repoRoot, "packages/server/test/cluster-node-child.ts"),
      JSON.stringify(input),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines: Record<string, unknown>[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${options.name} did not start in 30 s`)), 30_000);
    child.once("exit", (code) => reject(new Error(`node ${options.name} exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(value);
      if (typeof value.port === "number") {
        clearTimeout(timer);
        resolve(value.port);
      }
    });
  });
  return {
    name: options.name,
    port,
    url: `mqtts://127.0.0.1:${port}`,
    process: child,
    lines,
    kill: (signal = "SIGTERM") =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill(signal);
      }),
  };
}

/** A control node: a full Platform on the cluster (Redis transport, Redis MQTT persistence). */
export function startControl(
  redisUrl: string,
  prefix: string,
  postgresUrl: string,
  extra: Record<string, string> = {},
): Promise<TestPlatform> {
  return startPlatform({
    flags: {
      "store-engine": "postgres",
      "store-url": postgresUrl,
      "cluster-transport": "redis",
      "cluster-redis-url": redisUrl,
      "cluster-prefix": prefix,
      "cluster-node-id": "node-b",
      "cluster-presence-ttl-ms": "2000",
      "mqtt-persistence": "redis",
      ...extra,
    },
  });
}

/**
 * Another full Platform on the same cluster as `first` (its PostgreSQL store and Redis), with
 * `first`'s CA, key vault and master key (joinCluster before its first start), as a second
 * `vigil up` node would run. Its data directory is removed by `stop()`.
 */
export async function startAnotherControl(
  first: TestPlatform,
  options: { redisUrl: string; prefix: string; postgresUrl: string; nodeId: string; extra?: Record<string, string> },
): Promise<TestPlatform> {
  const dir = tempDir("vigil-control-");
  await joinCluster(first.platform.config.dataDir, join(dir.path, "data"), { withMasterKey: true });
  const started = await startPlatform({
    keepDir: dir.path,
    flags: {
      "store-engine": "postgres",
      "store-url": options.postgresUrl,
      "cluster-transport": "redis",
      "cluster-redis-url": options.redisUrl,
      "cluster-prefix": options.prefix,
      "cluster-node-id": options.nodeId,
      "cluster-presence-ttl-ms": "2000",
      "mqtt-persistence": "redis",
      ...options.extra,
    },
  });
  return {
    ...started,
    stop: async () => {
      await started.stop();
      dir.remove();
    },
  };
}
