import assert from "node:assert/strict";
import { after, test } from "node:test";
import { brokerBackends } from "../src/cluster/index.js";
import { moduleLogger } from "../src/core/index.js";
import { Gateway } from "../src/gateway/index.js";
import { loadDefaultProfiles } from "../src/policy/index.js";
import { needServices, redisDb } from "./cluster-support.js";
import { connectDevice, enrollDevice, waitFor } from "./gateway-support.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";

// With a shared router (a cluster's Redis), a QoS 1 PUBLISH is routed before its PUBACK: a node
// killed right after acknowledging must not have acknowledged a message nobody will deliver.
// The router is made slow (each hand-off to Redis waits 150 ms before it is confirmed), so the
// order of "router confirmed" and "PUBACK received" is plain to see; and the message is
// delivered once, not twice (aedes's own publish after the PUBACK must not route it again).

let t: TestPlatform | undefined;
const dir = tempDir("vigil-route-first-");
after(async () => {
  await t?.stop();
  dir.remove();
});

test("cluster routing: a QoS 1 message is handed to the router before its PUBACK, and delivered once", async (ctx) => {
  if (!(await needServices(ctx))) return;
  const redis = await redisDb(15);
  t = await startPlatform();
  const backends = await brokerBackends({ nodeId: "route-first", redisUrl: redis.url, routing: "redis", persistence: "memory" });
  const events: string[] = [];
  const mq = backends.mq as { emit(packet: { topic: string }, done: (error?: Error) => void): void };
  const emit = mq.emit.bind(mq);
  mq.emit = (packet, done) => {
    if (!packet.topic.startsWith("devices/")) return emit(packet, done);
    setTimeout(
      () =>
        emit(packet, (error) => {
          events.push(`routed ${packet.topic}`);
          done(error);
        }),
      150,
    );
  };
  const platform = t.platform;
  const profiles = await loadDefaultProfiles();
  const gateway = new Gateway({
    backends,
    settings: {
      host: "127.0.0.1",
      port: 0,
      handshakeTimeoutMs: 5_000,
      connectTimeoutMs: 5_000,
      maxConnectionsPerSource: 100,
      throttleDropsBeforeDisconnect: 100,
    },
    ca: platform.authority,
    devices: platform.store.devices,
    certificates: platform.store.certificates,
    bus: platform.bus,
    clock: platform.clock,
    log: moduleLogger(platform.log, "route-first"),
    profiles: (id) => profiles.get(id),
  });
  await gateway.start();
  const received: string[] = [];
  const off = await gateway.subscribe("devices/+/telemetry", (_topic, payload) => received.push(payload.toString()));
  const creds = await enrollDevice(platform, dir.path, "plc-route-1", "plc");
  const client = await connectDevice(gateway.url, creds);
  try {
    for (const n of [1, 2, 3]) {
      await client.publishAsync(`devices/${creds.deviceId}/telemetry`, `m${n}`, { qos: 1 });
      events.push(`puback m${n}`);
    }
    assert.deepEqual(events, [
      `routed devices/${creds.deviceId}/telemetry`,
      "puback m1",
      `routed devices/${creds.deviceId}/telemetry`,
      "puback m2",
      `routed devices/${creds.deviceId}/telemetry`,
      "puback m3",
    ]);
    await waitFor(() => received.length >= 3, 5_000, "the three messages to be delivered");
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(received, ["m1", "m2", "m3"], "each message delivered once, in order");
  } finally {
    await client.endAsync(true);
    await off();
    await gateway.stop();
    await backends.close();
    await redis.clean();
  }
});
