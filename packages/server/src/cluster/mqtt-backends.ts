import { createRequire } from "node:module";
import { Redis } from "ioredis";

const require = createRequire(import.meta.url);

/** What aedes takes to route and persist across nodes (`Aedes.createBroker({ mq, persistence })`). */
export interface BrokerBackends {
  /** aedes's broker id: the node id, so `$SYS/<id>/...` names the node. */
  readonly id?: string;
  readonly mq?: unknown;
  readonly persistence?: unknown;
  /** Closes the Redis connections made for `mq` (mqemitter-redis leaves given ones open); after the broker closed. */
  readonly close: () => Promise<void>;
}

/** A Redis URL as ioredis options (db from the path). */
function redisOptions(url: string): Record<string, unknown> {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname,
    port: u.port === "" ? 6379 : Number(u.port),
    db: Number.isInteger(db) ? db : 0,
    ...(u.username !== "" ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== "" ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

/**
 * aedes backends for a node:
 * - `routing: "redis"`: mqemitter-redis, so a PUBLISH on one node reaches subscribers on every node;
 * - `persistence: "redis"`: aedes-persistence-redis 12 (subscriptions, QoS 1 offline queues,
 *   in-flight messages, retained messages and wills in Redis), so a session survives its node.
 * Both default to aedes's in-memory ones (one node).
 */
export async function brokerBackends(options: {
  nodeId: string;
  redisUrl: string;
  routing: "memory" | "redis";
  persistence: "memory" | "redis";
}): Promise<BrokerBackends> {
  const redis = redisOptions(options.redisUrl);
  let mq: unknown;
  const connections: Redis[] = [];
  if (options.routing === "redis") {
    // Both connections are ready before mqemitter-redis subscribes: a SUBSCRIBE queued before
    // ioredis's ready check makes the check fail ("Connection in subscriber mode") and crash.
    // Pub/sub channels are not scoped by database, so no SELECT either.
    const connection = { ...redis, db: 0, lazyConnect: true };
    const subConn = new Redis(connection);
    const pubConn = new Redis(connection);
    connections.push(subConn, pubConn);
    await Promise.all([subConn.connect(), pubConn.connect()]);
    mq = (require("mqemitter-redis") as (o: Record<string, unknown>) => unknown)({ subConn, pubConn });
  }
  const persistence =
    options.persistence === "redis"
      ? (require("aedes-persistence-redis") as (o: Record<string, unknown>) => unknown)({
          ...redis,
          maxSessionDelivery: 10_000,
        })
      : undefined;
  return {
    id: options.nodeId,
    mq,
    persistence,
    close: async () => {
      for (const connection of connections) connection.disconnect();
      // aedes's close() does not end its persistence: its Redis connection would keep the process alive.
      const p = persistence as { destroy?: () => Promise<void> } | undefined;
      await p?.destroy?.().catch(() => undefined);
    },
  };
}
