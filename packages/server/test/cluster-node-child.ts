// A gateway node in a child process (so that a test can kill it with SIGKILL): reads its
// options as JSON from argv[2], prints one JSON line {"port": n} once listening.
import { GatewayNode, type GatewayNodeOptions } from "../src/app/index.js";
import { clusterConfigSchema } from "../src/cluster/index.js";
import { createRootLogger } from "../src/core/index.js";
import { parseProfile } from "../src/policy/index.js";

const input = JSON.parse(process.argv[2] ?? "{}") as {
  dataDir: string;
  sqliteFile?: string;
  postgresUrl?: string;
  cluster: Record<string, unknown> & { nodeId: string };
  services?: Record<string, string[]>;
  port?: number;
  /** Benchmarks: every profile id resolves to one that allows 10,000 msg/s (nothing throttled). */
  generousProfile?: boolean;
};
const generous = parseProfile(
  [
    "id: bench-generous",
    "description: Benchmark device; nothing is throttled.",
    "vertical: generic",
    "safetyCritical: false",
    'publish: ["devices/{device}/telemetry"]',
    'subscribe: ["devices/{device}/config"]',
    "maxMessagesPerSecond: 10000",
    "burst: 100000",
    "maxPayloadBytes: 1024",
    "maxQos: 1",
    "retainAllowed: false",
    "sensitivePayload: false",
  ].join("\n"),
);
const options: GatewayNodeOptions = {
  dataDir: input.dataDir,
  store: input.postgresUrl !== undefined ? { postgresUrl: input.postgresUrl } : { sqliteFile: input.sqliteFile ?? "" },
  cluster: { ...clusterConfigSchema.parse(input.cluster), nodeId: input.cluster.nodeId },
  ...(input.port !== undefined ? { port: input.port } : {}),
  ...(input.generousProfile === true ? { profiles: () => generous } : {}),
  ...(input.services !== undefined ? { services: new Map(Object.entries(input.services)) } : {}),
  log: createRootLogger({ level: "error" }),
};
const node = new GatewayNode(options);
await node.start();
node.bus.on("identity.cloned_suspected", (e) =>
  process.stdout.write(`${JSON.stringify({ signal: "identity.cloned_suspected", ...e })}\n`),
);
node.cluster.enforcement?.onApplied((m, at) =>
  process.stdout.write(`${JSON.stringify({ applied: m.kind, device: m.device, tier: m.tier, at, sentAt: m.at })}\n`),
);
process.stdout.write(`${JSON.stringify({ port: node.gateway.port })}\n`);
process.on("SIGTERM", () => {
  setTimeout(() => process.exit(0), 5000).unref();
  void node.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
