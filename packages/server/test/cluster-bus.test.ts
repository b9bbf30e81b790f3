// The cluster's decision bus, job lock and configuration against the real Redis and NATS.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Redis } from "ioredis";
import { connect as natsConnect } from "@nats-io/transport-node";
import { loadConfig } from "../src/app/index.js";
import {
  ClusterBus,
  ClusterEnforcement,
  NatsChannel,
  RedisChannel,
  RedisJobLock,
  type ClusterChannel,
  type LocalSessions,
} from "../src/cluster/index.js";
import { systemClock, type VigilError } from "../src/core/index.js";
import type { Tier } from "../src/policy/index.js";
import { waitFor } from "./gateway-support.js";
import { NATS_URL, needServices } from "./cluster-support.js";
import { memoryLogger } from "./support.js";

/** A gateway's enforcement ports as a recording fake (our own port, not the thing under test). */
function recordingSessions() {
  const calls: string[] = [];
  const sessions: LocalSessions = {
    applyTier: async (device: string, tier: Tier) => {
      calls.push(`tier ${device} ${tier}`);
      return 1;
    },
    disconnect: (device: string, reason?: string) => {
      calls.push(`disconnect ${device} ${reason ?? ""}`.trim());
      return true;
    },
  };
  return { calls, sessions };
}

for (const transport of ["redis", "nats"] as const) {
  test(`decisions over ${transport}: a quarantine reaches the other node; malformed, invalid, echoed and replayed messages are dropped and nothing applied changes`, async (t) => {
    if (!(await needServices(t, { nats: transport === "nats" }))) return;
    const prefix = `t${randomBytes(4).toString("hex")}`;
    const channel = (): ClusterChannel =>
      transport === "redis" ? new RedisChannel("redis://127.0.0.1:6379", prefix) : new NatsChannel(NATS_URL, prefix);
    const { log } = memoryLogger();
    const one = new ClusterBus({ nodeId: "one", channel: channel(), clock: systemClock, log });
    const two = new ClusterBus({ nodeId: "two", channel: channel(), clock: systemClock, log });
    await one.start();
    await two.start();
    const a = recordingSessions();
    const b = recordingSessions();
    const deciding = new ClusterEnforcement({ bus: one, local: () => a.sessions, log });
    const applying = new ClusterEnforcement({ bus: two, local: () => b.sessions, log });
    deciding.start();
    applying.start();
    const seen: string[] = [];
    one.onDecision((m) => seen.push(JSON.stringify(m)));
    two.onDecision((m) => seen.push(JSON.stringify(m)));

    // The raw wire, as a hostile or broken peer would use it.
    const raw = transport === "redis" ? new Redis({ host: "127.0.0.1", port: 6379 }) : undefined;
    const nc = transport === "nats" ? await natsConnect({ servers: NATS_URL }) : undefined;
    const inject = async (data: string) => {
      if (raw !== undefined) await raw.publish(`${prefix}:decisions`, data);
      if (nc !== undefined) {
        nc.publish(`${prefix}.decisions`, data);
        await nc.flush();
      }
    };
    t.after(async () => {
      deciding.stop();
      applying.stop();
      await one.stop();
      await two.stop();
      raw?.disconnect();
      await nc?.drain();
    });

    assert.equal(await deciding.quarantine("dev-1", "incident 7"), 1, "applied to the deciding node's own session");
    await waitFor(() => b.calls.length === 1, 5000, "the other node to apply the decision");
    assert.deepEqual(b.calls, ["tier dev-1 quarantine"]);
    assert.equal(applying.decidedTier("dev-1"), "quarantine", "remembered for the device's next connection");
    assert.equal(one.stats.received, 0, "the deciding node ignored its own echo");
    const firstWire = seen[0] as string;

    await inject("not json at all");
    await inject(JSON.stringify({ v: 2, node: "x", seq: 1, at: 0, kind: "tier", device: "dev-1", tier: "trusted", reason: "" }));
    await inject(JSON.stringify({ v: 1, node: "x", seq: 1, at: 0, kind: "tier", device: "dev-1", reason: "no tier" }));
    await inject(JSON.stringify({ v: 1, node: "x", seq: 2, at: 0, kind: "tier", device: "dev-1", tier: "root", reason: "" }));
    await inject(`{"v":1,"node":"x","seq":3,"at":0,"kind":"disconnect","device":"${"d".repeat(9000)}","reason":""}`);
    await inject(firstWire); // a replay of a decision already applied
    await waitFor(() => two.stats.invalid === 5 && two.stats.ignored >= 1, 5000, "the bad messages to be counted");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(b.calls, ["tier dev-1 quarantine"], "nothing else was applied");
    assert.equal(applying.decidedTier("dev-1"), "quarantine");

    // Revocation and disconnect travel too.
    deciding.revoked("dev-2", ["ab12"], "keyCompromise");
    assert.equal(deciding.disconnect("dev-3"), true);
    await waitFor(() => b.calls.length === 3, 5000, "revocation and disconnect");
    assert.deepEqual(b.calls.slice(1), ["disconnect dev-2 revoked", "disconnect dev-3"]);
  });
}

test("a periodic job takes the Redis lock: a second node does not run it while the first holds it, and runs it after", async (t) => {
  if (!(await needServices(t))) return;
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const first = new RedisJobLock({ url: "redis://127.0.0.1:6379", prefix, ttlMs: 5000 });
  const second = new RedisJobLock({ url: "redis://127.0.0.1:6379", prefix, ttlMs: 5000 });
  await first.start();
  await second.start();
  t.after(async () => {
    await first.stop();
    await second.stop();
  });
  let release = () => undefined as void;
  const holding = first.run("audit-checks", () => new Promise<string>((resolve) => (release = () => resolve("first"))));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await second.run("audit-checks", async () => "second"), { ran: false });
  release();
  assert.deepEqual(await holding, { ran: true, value: "first" });
  assert.deepEqual(await second.run("audit-checks", async () => "second"), { ran: true, value: "second" });
});

test("cluster settings: the default is one node with no transport; an unknown transport or role, or a Redis URL with a badly encoded password, is refused with every problem listed", async () => {
  const defaults = await loadConfig({ env: {}, cwd: "/" });
  assert.equal(defaults.cluster.transport, "none");
  assert.equal(defaults.cluster.role, "all");
  assert.equal(defaults.mqtt.persistence, "memory");
  await assert.rejects(
    loadConfig({
      env: {},
      cwd: "/",
      flags: {
        "cluster-transport": "kafka",
        "cluster-role": "leader",
        "mqtt-persistence": "disk",
        "cluster-redis-url": "redis://vigil:p%zzss@127.0.0.1:6379",
      },
    }),
    (error: VigilError) => {
      assert.equal(error.code, "CONFIG_INVALID");
      assert.match(error.message, /cluster\.transport/);
      assert.match(error.message, /cluster\.role/);
      assert.match(error.message, /mqtt\.persistence/);
      assert.match(error.message, /cluster\.redisUrl.*percent-encoded/);
      assert.doesNotMatch(error.message, /p%zzss/, "the password is not echoed");
      return true;
    },
  );
});
