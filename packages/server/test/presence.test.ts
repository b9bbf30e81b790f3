import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Redis } from "ioredis";
import { InProcessBus } from "../src/core/index.js";
import { PresenceRegistry } from "../src/cluster/index.js";
import type { SignalMap } from "../src/signals/index.js";
import { needServices } from "./cluster-support.js";
import { memoryLogger } from "./support.js";

// The cluster-wide presence registry on the real Redis: one identity live on two nodes is a
// clone; a device arriving from a node that was killed (its liveness key not yet expired, but
// its heartbeat stopped) is a failover, not a clone — else a node's death would quarantine
// every device it held as they reconnect elsewhere.

const TTL_MS = 1_500;

function node(nodeId: string, prefix: string) {
  const bus = new InProcessBus<SignalMap>();
  const clones: SignalMap["identity.cloned_suspected"][] = [];
  bus.on("identity.cloned_suspected", (e) => clones.push(e));
  const registry = new PresenceRegistry({
    url: "redis://127.0.0.1:6379/14",
    prefix,
    nodeId,
    ttlMs: TTL_MS,
    bus,
    log: memoryLogger().log,
  });
  const connect = (device: string, remote: string) =>
    bus.emit("gateway.connected", { device, remote, serial: "0a1b", profile: "plc", tier: "standard" });
  return { bus, clones, registry, connect };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("presence: the same identity live on two nodes is a clone; a device coming from a killed node is a failover, not a clone", async (t) => {
  if (!(await needServices(t))) return;
  const prefix = `p${randomBytes(4).toString("hex")}`;
  const redis = new Redis("redis://127.0.0.1:6379/14");
  const a = node("node-a", prefix);
  const b = node("node-b", prefix);
  await a.registry.start();
  await b.registry.start();
  try {
    // A clone: pump-1 live on A, then the same identity from elsewhere on B.
    a.connect("pump-1", "10.0.0.5:4000");
    await until("node A holds pump-1 cluster-wide", async () => (await b.registry.holder("pump-1")) === "node-a");
    b.connect("pump-1", "10.9.9.9:5000");
    await until("node B raised a clone", () => b.clones.length === 1);
    assert.deepEqual(b.clones[0]?.remotes, ["10.0.0.5:4000 (node node-a)", "10.9.9.9:5000 (node node-b)"]);
    assert.equal(b.clones[0]?.sameHost, false);

    // A node killed with SIGKILL leaves its liveness key (until its TTL) and its devices' entries,
    // and its heartbeat stops: exactly this state in Redis.
    await redis.set(`${prefix}:node:node-dead`, String(Date.now()), "PX", TTL_MS);
    await redis.set(`${prefix}:presence:meter-7`, JSON.stringify({ node: "node-dead", remote: "10.0.0.7:4100", serial: "0a1b" }));
    b.connect("meter-7", "10.0.0.7:4200");
    await until("node B judged meter-7's arrival", () => b.registry.failovers === 1);
    assert.equal(b.clones.length, 1, "no clone raised for a device whose node died");
    assert.equal(await b.registry.holder("meter-7"), "node-b", "meter-7 is now held by node B");
  } finally {
    await a.registry.stop();
    await b.registry.stop();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
});
