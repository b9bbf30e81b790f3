import { hostname } from "node:os";
import { z } from "zod";

/** Defaults of the `cluster` section: one node, no cross-node transport (nothing changes). */
export const CLUSTER_DEFAULTS = Object.freeze({
  role: "all" as const,
  transport: "none" as const,
  redisUrl: "redis://127.0.0.1:6379",
  natsUrl: "nats://127.0.0.1:4222",
  prefix: "vigil",
  presenceTtlMs: 5_000,
});

/**
 * The cluster's slice of the configuration (STYLE habit 4). A node is one `vigil up`; nodes
 * of one cluster share the store (PostgreSQL), the CA and master key (docs/scale.md) and
 * one transport (Redis or NATS) for MQTT routing and security decisions.
 */
export const clusterConfigSchema = z
  .object({
    nodeId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/)
      .optional()
      .describe("This node's name in the cluster (unique per node). Default: the host name and process id."),
    role: z
      .enum(["all", "gateway", "control"])
      .default(CLUSTER_DEFAULTS.role)
      .describe(
        "all: API, services and MQTT gateway. gateway: the MQTT gateway (and the API) — run several behind a TCP load balancer. control: API and services without the MQTT listener.",
      ),
    transport: z
      .enum(["none", "redis", "nats"])
      .default(CLUSTER_DEFAULTS.transport)
      .describe(
        "Cross-node messaging. none: a single node. redis: MQTT routing (mqemitter-redis), the security-decision bus and presence through Redis. nats: the decision bus and presence through NATS (MQTT routing still needs Redis: see docs/adr/0005-cluster-transport.md).",
      ),
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//)
      .refine(decodableUrl, "must be a URL whose user and password are validly percent-encoded (e.g. %40 for @)")
      .default(CLUSTER_DEFAULTS.redisUrl)
      .describe("Redis of the cluster (and of mqtt.persistence=redis), redis://[user:pass@]host:port[/db]."),
    natsUrl: z
      .string()
      .regex(/^(nats|tls):\/\//)
      .default(CLUSTER_DEFAULTS.natsUrl)
      .describe("NATS server of the cluster when transport is nats."),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/)
      .default(CLUSTER_DEFAULTS.prefix)
      .describe("Prefix of every Redis key, channel and NATS subject the cluster uses (several clusters may share one Redis)."),
    presenceTtlMs: z
      .number()
      .int()
      .min(1000)
      .max(600_000)
      .default(CLUSTER_DEFAULTS.presenceTtlMs)
      .describe("A device's presence entry expires this long after its node's last heartbeat (a dead node's devices are freed)."),
  })
  .strict();

export type ClusterConfig = Readonly<z.infer<typeof clusterConfigSchema>>;

/** The node id when none is configured: unique per process on one host. */
export function defaultNodeId(): string {
  return `${hostname()
    .replace(/[^A-Za-z0-9_.-]/g, "-")
    .slice(0, 40)}-${process.pid}`;
}

/** `new URL` keeps a bad percent-encoding (`%zz`) that decoding the credentials later throws on. */
function decodableUrl(value: string): boolean {
  try {
    const url = new URL(value);
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    return true;
  } catch {
    return false;
  }
}
