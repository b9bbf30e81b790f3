// Benchmark `cluster`: several gateway nodes (child processes) on the real Redis (and NATS)
// of this machine: QoS 1 messages/s through 1, 2 and 3 Vigil gateway nodes vs the same
// number of bare aedes + mqemitter-redis nodes, and how long a quarantine decided on one
// node takes to reach a live session on another, over Redis pub/sub and over NATS.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import mqtt, { type MqttClient } from "mqtt";
import { createRequire } from "node:module";
import { enroll, type DeviceCredentials } from "../packages/device-sdk/src/index.js";
import { joinCluster, type Platform } from "../packages/server/src/app/index.js";
import { ClusterBus, ClusterEnforcement, NatsChannel, RedisChannel } from "../packages/server/src/cluster/index.js";
import { createRootLogger, systemClock } from "../packages/server/src/core/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";
import { startBenchVigil } from "./lib/vigil.js";

export const title =
  "Cluster: QoS 1 msg/s through 1-3 gateway nodes (Vigil vs bare aedes + Redis) and quarantine propagation (Redis vs NATS)";

const PUBLISHERS = 12;
const WINDOW = 8;
const DB = 9;
const DECISIONS = 300;
const REPO = fileURLToPath(new URL("..", import.meta.url));
// ioredis is a dependency of the server package, not of the repository root.
const { Redis } = createRequire(join(REPO, "packages/server/package.json"))("ioredis") as {
  Redis: new (options: object) => { flushdb(): Promise<unknown>; disconnect(): void };
};

export const about = `Every node is its own process on this machine (2 cores shared with the load generator, Redis
and NATS), all on loopback with **mutual TLS**. ${PUBLISHERS} devices publish 64-byte QoS 1 messages on
\`devices/<id>/telemetry\`, spread round-robin over the nodes, each keeping ${WINDOW} unacknowledged at most; one
subscriber (\`devices/+/telemetry\`, QoS 1) sits on the first node, so with 2 and 3 nodes most messages cross Redis.
Figure: messages delivered to the subscriber per second over \`--duration\`.

- **Vigil**: \`GatewayNode\` processes (the gateway of \`vigil up --role gateway\`: certificate checks, policy and
  token bucket per PUBLISH) with \`mqemitter-redis\` routing and \`aedes-persistence-redis\` 12 sessions.
- **aedes**: bare aedes 1.2 with the same two Redis backends, no hooks, behind \`node:tls\`.
- **Propagation**: a deciding node (this process) sends ${DECISIONS} tier decisions (quarantine / standard,
  alternating, 20 ms apart) for a device connected to a gateway node; the figure is from the decision being sent
  to the gateway node having applied it to the live session (same machine clock), p50/p99, over Redis pub/sub
  and over core NATS. Ratios: Vigil / aedes msg/s at the same node count.`;

export function budgetSeconds(options: { duration: number }): number {
  return 240 + 8 * (options.duration + 5);
}

interface Child {
  readonly port: number;
  readonly process: ChildProcess;
  readonly lines: Record<string, unknown>[];
}

function spawnChild(args: string[], name: string): Promise<Child> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], cwd: REPO });
  const lines: Record<string, unknown>[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 60_000);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      try {
        const value = JSON.parse(line) as Record<string, unknown>;
        lines.push(value);
        if (typeof value.port === "number") {
          clearTimeout(timer);
          resolve({ port: value.port, process: child, lines });
        }
      } catch {
        // not one of ours
      }
    });
  });
}

function stopChild(child: Child): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.process.kill("SIGKILL"), 5000);
    child.process.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.process.kill("SIGTERM");
  });
}

function connect(port: number, creds: DeviceCredentials): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
    key: creds.keyPem,
    cert: creds.certPem,
    ca: creds.caPem,
    clientId: creds.deviceId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    rejectUnauthorized: false,
  });
}

async function measure(
  ports: number[],
  publishers: DeviceCredentials[],
  subscriber: DeviceCredentials,
  seconds: number,
  signal: AbortSignal,
): Promise<number> {
  const sub = await connect(ports[0] as number, subscriber);
  let delivered = 0;
  let counting = false;
  sub.on("message", () => {
    if (counting) delivered++;
  });
  await sub.subscribeAsync("devices/+/telemetry", { qos: 1 });
  const clients = await Promise.all(publishers.map((p, i) => connect(ports[i % ports.length] as number, p)));
  const payload = Buffer.alloc(64, 7);
  let running = true;
  const loops = clients.map(async (client, i) => {
    const topic = `devices/${(publishers[i] as DeviceCredentials).deviceId}/telemetry`;
    const lane = async () => {
      while (running && !signal.aborted && client.connected)
        await client.publishAsync(topic, payload, { qos: 1 }).catch(() => undefined);
    };
    await Promise.all(Array.from({ length: WINDOW }, lane));
  });
  await new Promise((r) => setTimeout(r, 2000)); // warm-up
  counting = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const elapsed = (performance.now() - started) / 1000;
  running = false;
  await Promise.all(loops);
  for (const c of [...clients, sub]) c.end(true);
  return Math.round(delivered / elapsed);
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export async function run({ duration, progress, signal }: BenchOptions): Promise<BenchOutput> {
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-cluster-"));
  const redisUrl = `redis://127.0.0.1:6379/${DB}`;
  const redis = new Redis({ host: "127.0.0.1", port: 6379, db: DB });
  const children: Child[] = [];
  let platform: Platform | undefined;
  const figures: Record<string, number> = {};
  const ratios: Record<string, number> = {};
  try {
    await redis.flushdb();
    const prefix = `bench${process.pid}`;
    platform = await progress.phase("start the control node (Vigil, Redis transport, no MQTT listener)", () =>
      startBenchVigil(tmp, {
        "cluster-transport": "redis",
        "cluster-redis-url": redisUrl,
        "cluster-prefix": prefix,
        "cluster-role": "control",
        "audit-enabled": "false",
      }),
    );
    const control = platform;
    const creds = await progress.phase(`enroll ${PUBLISHERS + 2} devices over EST`, async () => {
      const out: DeviceCredentials[] = [];
      for (let i = 0; i < PUBLISHERS + 2; i++) {
        const { tokens } = await control.enrollment.createTokens({ profile: "plc", ttlSeconds: 600, count: 1, by: "bench" });
        out.push(
          await enroll({
            server: control.url,
            caPem: control.ca,
            deviceId: `cb-${i}`,
            dir: join(tmp, "devices", `cb-${i}`),
            attestation: { kind: "claim-token", token: tokens[0] as string },
          }),
        );
      }
      return out;
    });
    const subscriber = creds[PUBLISHERS] as DeviceCredentials;
    const target = creds[PUBLISHERS + 1] as DeviceCredentials;
    const publishers = creds.slice(0, PUBLISHERS);
    const serverTls = await control.authority.issueServer([], ["127.0.0.1"]);
    const caPem = `${control.authority.issuingPem}${control.authority.rootPem}`;

    let started = 0;
    const startVigilNode = async (i: number, transport: "redis" | "nats") => {
      const dir = join(tmp, `node-${transport}-${i}-${++started}`);
      await joinCluster(control.config.dataDir, dir, { withMasterKey: true });
      const input = {
        dataDir: dir,
        sqliteFile: join(control.config.dataDir, "vigil.db"),
        cluster: { nodeId: `vigil-${transport}-${i}`, role: "gateway", transport, redisUrl, prefix },
        services: { [subscriber.deviceId]: ["devices/+/telemetry"] },
        generousProfile: true,
      };
      const child = await spawnChild(
        ["--conditions=vigil-source", "--import", "tsx", "packages/server/test/cluster-node-child.ts", JSON.stringify(input)],
        `vigil node ${i}`,
      );
      children.push(child);
      return child;
    };
    const startAedesNode = async (i: number) => {
      const input = { redisUrl, id: `aedes-${i}`, certPem: serverTls.chainPem, keyPem: serverTls.keyPem, caPem };
      const child = await spawnChild(["bench/cluster-aedes-child.mjs", JSON.stringify(input)], `aedes node ${i}`);
      children.push(child);
      return child;
    };
    const stopAll = async () => {
      await Promise.all(children.map(stopChild));
      children.length = 0;
      await redis.flushdb();
    };

    for (const n of [1, 2, 3]) {
      const nodes = await progress.phase(`start ${n} Vigil gateway node(s)`, async () => {
        const out: Child[] = [];
        for (let i = 0; i < n; i++) out.push(await startVigilNode(i, "redis"));
        return out;
      });
      const vigil = await progress.phase(`Vigil, ${n} node(s): ${duration} s`, () =>
        measure(
          nodes.map((c) => c.port),
          publishers,
          subscriber,
          duration,
          signal,
        ),
      );
      await stopAll();
      const bare = await progress.phase(`bare aedes + Redis, ${n} node(s): ${duration} s`, async () => {
        const out: Child[] = [];
        for (let i = 0; i < n; i++) out.push(await startAedesNode(i));
        return measure(
          out.map((c) => c.port),
          publishers,
          subscriber,
          duration,
          signal,
        );
      });
      await stopAll();
      const label = n === 1 ? "1_node" : `${n}_nodes`;
      figures[`msgs_per_s_${label}`] = vigil;
      figures[`aedes_msgs_per_s_${label}`] = bare;
      ratios[`vigil_vs_aedes_${label}`] = Math.round((vigil / Math.max(1, bare)) * 100) / 100;
    }

    for (const transport of ["redis", "nats"] as const) {
      const node = await progress.phase(`start a gateway node (${transport} decisions)`, () => startVigilNode(0, transport));
      const device = await connect(node.port, target);
      const log = createRootLogger({ level: "error" });
      const bus = new ClusterBus({
        nodeId: `decider-${transport}`,
        channel: transport === "redis" ? new RedisChannel(redisUrl, prefix) : new NatsChannel("nats://127.0.0.1:4222", prefix),
        clock: systemClock,
        log,
      });
      await bus.start();
      const enforcement = new ClusterEnforcement({ bus, local: () => undefined, log });
      const latencies = await progress.phase(`${DECISIONS} decisions over ${transport}`, async () => {
        for (let i = 0; i < DECISIONS && !signal.aborted; i++) {
          await enforcement.applyTier(target.deviceId, i % 2 === 0 ? "quarantine" : "standard", "bench");
          await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 500));
        return node.lines
          .filter((l) => typeof l.applied === "string" && l.device === target.deviceId)
          .map((l) => (l.at as number) - (l.sentAt as number))
          .sort((a, b) => a - b);
      });
      device.end(true);
      await bus.stop();
      await stopAll();
      figures[`${transport}_quarantine_propagation_p50_ms`] = quantile(latencies, 0.5);
      figures[`${transport}_quarantine_propagation_p99_ms`] = quantile(latencies, 0.99);
      figures[`${transport}_decisions_applied`] = latencies.length;
    }
    const redisP99 = figures.redis_quarantine_propagation_p99_ms as number;
    const natsP99 = figures.nats_quarantine_propagation_p99_ms as number;
    // The transport the cluster uses for decisions (docs/adr/0005-cluster-transport.md).
    figures.quarantine_propagation_p99_ms = redisP99;
    ratios.nats_vs_redis_propagation_speed_ratio = Math.round((redisP99 / Math.max(0.001, natsP99)) * 100) / 100;
    return { figures, ratios };
  } finally {
    await Promise.all(children.map(stopChild));
    await redis.flushdb().catch(() => undefined);
    redis.disconnect();
    await platform?.stop("bench done");
    await rm(tmp, { recursive: true, force: true });
  }
}
