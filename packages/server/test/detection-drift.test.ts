import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { DeviceCredentials } from "../../device-sdk/src/index.js";
import { seeded } from "../src/detection/robust-baseline.test.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";
import { connectDevice, enrollDevice, waitFor } from "./gateway-support.js";

// Behaviour drift end to end: devices enrolled through EST with the SDK publish JSON telemetry
// over mutual TLS to the real gateway; the platform's detector reads the payloads' numbers
// inline, and a device whose readings drift away from normal gets a finding naming the
// drifting field and is quarantined, the message that completed the evidence refused.

let t: TestPlatform;
const dir = tempDir("vigil-detection-drift-");
const creds: Record<string, DeviceCredentials> = {};
const IDS = ["car-1", "car-2", "car-3"] as const;
/** Normal readings per unit before the drift (the noise baseline is its own after 24). */
const NORMAL = 80;

before(async () => {
  t = await startPlatform({ flags: { "detection-window-ms": "1000", "detection-warmup-windows": "3" } });
  for (const id of IDS) creds[id] = await enrollDevice(t.platform, dir.path, id, "vehicle-telematics");
});
after(async () => {
  await t.stop();
  dir.remove();
});

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

test("a telematics unit whose engine readings drift is found, named and quarantined; its peers are not", async () => {
  const rand = seeded(21);
  const delivered: string[] = [];
  const unsubscribe = await t.platform.gateway.subscribe("devices/+/telemetry", (_topic, payload) =>
    delivered.push(payload.toString()),
  );
  const clients = await Promise.all(IDS.map((id) => connectDevice(t.platform.gateway.url, creds[id]!)));
  const reading = (drift: number) => ({
    rpm: Math.round(1900 + 250 * (6 * drift + (1 + 2 * drift) * gaussian(rand))),
    coolantC: Math.round((88 + 1.5 * (6 * drift + (1 + 2 * drift) * gaussian(rand))) * 10) / 10,
  });
  try {
    // Normal: NORMAL readings per unit (the profile allows two a second; the test clock advances 1.1 s per round).
    for (let k = 0; k < NORMAL; k++) {
      for (let i = 0; i < IDS.length; i++)
        await clients[i]!.publishAsync(`devices/${IDS[i]}/telemetry`, JSON.stringify({ id: IDS[i], seq: k, ...reading(0) }), {
          qos: 1,
        });
      t.clock.advance(1_100);
    }
    await waitFor(() => delivered.length === NORMAL * IDS.length, 10_000, "normal readings delivered");
    assert.deepEqual(t.platform.detection.findings(), []);
    // car-2 drifts over 60 readings (mean +6 sd, noise tripled) and stays there, inside every limit.
    let sent = 0;
    for (let k = 0; k < 120 && !t.platform.detection.findings().some((f) => f.device === "car-2"); k++) {
      for (let i = 0; i < IDS.length; i++) {
        const drift = IDS[i] === "car-2" ? Math.min(1, (k + 1) / 60) : 0;
        // A refused PUBLISH gets no PUBACK: wait for the ack at most a second.
        await Promise.race([
          clients[i]!.publishAsync(
            `devices/${IDS[i]}/telemetry`,
            JSON.stringify({ id: IDS[i], seq: NORMAL + k, ...reading(drift) }),
            {
              qos: 1,
            },
          ),
          new Promise((resolve) => setTimeout(resolve, 1_000)),
        ]);
        if (IDS[i] === "car-2") sent++;
      }
      t.clock.advance(1_100);
    }
    await waitFor(() => t.platform.detection.findings().some((f) => f.device === "car-2"), 5_000, "drift finding");
    const findings = t.platform.detection.findings();
    assert.deepEqual(
      findings.map((f) => f.device),
      ["car-2"],
    );
    const f = findings[0]!;
    assert.equal(f.rule, "behaviour_anomaly");
    assert.equal(f.action, "quarantine");
    assert.equal(typeof f.detectToBlockMs, "number");
    const evidence = f.evidence as { model: string; deviations: { feature: string }[] };
    assert.equal(evidence.model, "payload_drift");
    assert.ok(
      ["payload.telemetry.rpm", "payload.telemetry.coolantC"].includes(evidence.deviations[0]!.feature),
      JSON.stringify(evidence.deviations),
    );
    await waitFor(() => t.platform.gateway.policyOf("car-2")?.tier === "quarantine", 5_000, "quarantine");
    // The message that completed the evidence never reached the subscriber; every one of the peers' did.
    assert.ok(sent > 0);
    const drifted = (id: string) =>
      delivered.map((d) => JSON.parse(d) as { id: string; seq: number }).filter((m) => m.id === id && m.seq >= NORMAL).length;
    await waitFor(() => drifted("car-1") === sent && drifted("car-3") === sent, 5_000, "peer readings delivered");
    assert.equal(drifted("car-2"), sent - 1);
    assert.notEqual(t.platform.gateway.policyOf("car-1")?.tier, "quarantine");
  } finally {
    await unsubscribe();
    for (const c of clients) c.end(true);
  }
});
