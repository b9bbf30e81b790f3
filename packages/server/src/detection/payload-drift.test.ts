import assert from "node:assert/strict";
import { test } from "node:test";
import { detectionConfigSchema, type DetectionConfig } from "./detection-config.js";
import { Detector, type Finding } from "./detector.js";
import { DEVICE_FIELDS, DriftScratch, PEER_FIELDS, scanNumbers } from "./payload-drift.js";
import { seeded } from "./robust-baseline.test.js";

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

function setup(overrides: Record<string, unknown> = {}) {
  const config: DetectionConfig = detectionConfigSchema.parse(overrides);
  const findings: Finding[] = [];
  const detector = new Detector({ config, emit: (f) => findings.push(f), schedule: () => undefined });
  return { detector, findings };
}

const T0 = 1_800_000_000_000;

/** A sensor's telemetry: a stationary reading, a noisy one, a counter and a timestamp. */
function body(now: number, seq: number, temp: number, pressure: number): Buffer {
  return Buffer.from(JSON.stringify({ ts: now, t: temp, p: pressure, kwh: 1000 + seq * 0.25, state: "ok" }));
}

test("the scanner reads numeric fields of JSON (nested, negative, exponent) and skips strings and cut numbers", () => {
  const s = new DriftScratch();
  const buf = Buffer.from('{"a": -1.5, "s": "x\\"y:2", "o": {"b": 3e2, "c": [1, 2]}, "d": true, "e": 42');
  const n = scanNumbers(buf, 7, s);
  // a, b; "e": 42 runs to the end of the buffer (a cut number is not read), c is an array.
  assert.equal(n, 2);
  assert.deepEqual([s.values[0], s.values[1]], [-1.5, 300]);
  assert.equal(scanNumbers(Buffer.from("not json at all, 12345"), 7, s), 0);
  assert.equal(scanNumbers(Buffer.alloc(10_000, 0x22), 7, s), 0);
});

test("a stationary noisy fleet with reboots and blips raises no drift finding", () => {
  const { detector, findings } = setup();
  const rand = seeded(11);
  const ids = Array.from({ length: 30 }, (_, i) => `dev-${i}`);
  const seq = new Map<string, number>();
  for (const id of ids) detector.connected(id, "sensor", "10.0.0.1:1", T0);
  for (let step = 0; step < 3_000; step++) {
    const now = T0 + step * 1000;
    for (const id of ids) {
      const odd = rand();
      if (odd < 0.002) {
        // A reboot: session ends and comes back, counters reset.
        detector.disconnected(id, now);
        detector.connected(id, "sensor", "10.0.0.1:1", now + 1);
        seq.set(id, 0);
      } else if (odd < 0.004) {
        // A blip: the session drops and comes back.
        detector.disconnected(id, now);
        detector.connected(id, "sensor", "10.0.0.1:1", now + 1);
      }
      const k = (seq.get(id) ?? 0) + 1;
      seq.set(id, k);
      const temp = 21 + 0.3 * gaussian(rand);
      const pressure = 1013 + 12 * gaussian(rand);
      const b = body(now, k, Math.round(temp * 10) / 10, Math.round(pressure));
      assert.equal(detector.observe(id, `devices/${id}/telemetry`, b.length, now, b), true);
    }
  }
  assert.deepEqual(
    findings.map((f) => `${f.device} ${f.rule}`),
    [],
  );
});

test("a slowly drifting device is found within a bounded number of samples, with the drifting feature named", () => {
  const { detector, findings } = setup();
  const rand = seeded(5);
  const ids = Array.from({ length: 20 }, (_, i) => `dev-${i}`);
  for (const id of ids) detector.connected(id, "sensor", "10.0.0.1:1", T0);
  const warm = 600;
  const ramp = 120;
  let refusedAt = -1;
  let step = 0;
  for (; step < warm + ramp && refusedAt < 0; step++) {
    const now = T0 + step * 1000;
    for (const id of ids) {
      const drift = id === "dev-3" && step >= warm ? (step - warm) / ramp : 0;
      const temp = 21 + 0.3 * (4 * drift + (1 + drift) * gaussian(rand));
      const pressure = 1013 + 12 * (4 * drift + (1 + drift) * gaussian(rand));
      const b = body(now, step, Math.round(temp * 10) / 10, Math.round(pressure));
      const ok = detector.observe(id, `devices/${id}/telemetry`, b.length, now, b);
      if (!ok) {
        assert.equal(id, "dev-3");
        refusedAt = step;
      }
    }
  }
  assert.equal(findings.length, 1, JSON.stringify(findings));
  const f = findings[0]!;
  assert.equal(f.device, "dev-3");
  assert.equal(f.rule, "behaviour_anomaly");
  // Detected within the ramp (at most 120 samples after the drift began), and the message refused.
  assert.ok(refusedAt >= warm && refusedAt < warm + ramp, `refused at ${refusedAt}`);
  const evidence = f.evidence as { model: string; statistic: string; deviations: { feature: string }[] };
  assert.equal(evidence.model, "payload_drift");
  assert.ok(["noise", "level_up"].includes(evidence.statistic));
  const named = evidence.deviations.slice(0, 2).map((d) => d.feature);
  assert.ok(named.includes("payload.telemetry.t") || named.includes("payload.telemetry.p"), named.join());
  // The counter and the timestamp are not what moved.
  assert.ok(!named.includes("payload.telemetry.ts") && !named.includes("payload.telemetry.kwh"));
  // Blocked until the session ends.
  const b = body(T0 + step * 1000, step, 21, 1013);
  assert.equal(detector.observe("dev-3", "devices/dev-3/telemetry", b.length, T0 + step * 1000, b), false);
});

test("a new device is judged against its peers' fields from its first messages", () => {
  const { detector, findings } = setup();
  const rand = seeded(9);
  const ids = Array.from({ length: 20 }, (_, i) => `dev-${i}`);
  for (const id of ids) detector.connected(id, "sensor", "10.0.0.1:1", T0);
  for (let step = 0; step < 300; step++) {
    const now = T0 + step * 1000;
    for (const id of ids) {
      const b = body(now, step, Math.round((21 + 0.3 * gaussian(rand)) * 10) / 10, Math.round(1013 + 12 * gaussian(rand)));
      detector.observe(id, `devices/${id}/telemetry`, b.length, now, b);
    }
  }
  assert.equal(findings.length, 0);
  // A newcomer whose readings are far noisier than its profile's: found from its peers' baseline.
  detector.connected("newcomer", "sensor", "10.0.0.1:1", T0 + 300_000);
  let at = -1;
  for (let k = 0; k < 60 && at < 0; k++) {
    const now = T0 + 300_000 + k * 1000;
    const b = body(now, k, Math.round((21 + 3 * gaussian(rand)) * 10) / 10, Math.round(1013 + 120 * gaussian(rand)));
    if (!detector.observe("newcomer", "devices/newcomer/telemetry", b.length, now, b)) at = k;
  }
  assert.ok(at >= 0 && at < 24, `found after ${at} messages (before its own baseline exists)`);
  assert.equal((findings[0]?.evidence as { baseline: string }).baseline, "peers");
});

test("per-device and per-peer field state is bounded however many fields a payload has", () => {
  const { detector } = setup();
  detector.connected("wide", "sensor", "10.0.0.1:1", T0);
  for (let k = 0; k < 50; k++) {
    const fields: Record<string, number> = {};
    for (let i = 0; i < 40; i++) fields[`f${k}_${i}`] = i;
    const b = Buffer.from(JSON.stringify(fields));
    detector.observe("wide", "devices/wide/telemetry", b.length, T0 + k * 1000, b);
  }
  const s = detector.stateOf("wide")!;
  assert.equal(s.drift.fields.count, DEVICE_FIELDS);
  assert.equal(s.drift.fields.keys.length, DEVICE_FIELDS);
  assert.equal(detector.peerOf("sensor")!.fields.count, PEER_FIELDS);
});

test("drift.enabled false reads no payload; an unknown drift action is refused by the configuration schema", () => {
  const off = setup({ drift: { enabled: false } });
  off.detector.connected("d", "sensor", "10.0.0.1:1", T0);
  const b = body(T0, 1, 21, 1013);
  off.detector.observe("d", "devices/d/telemetry", b.length, T0, b);
  assert.equal(off.detector.stateOf("d")!.drift.fields.count, 0);
  assert.equal(off.detector.counters.payloads, 0);
  assert.throws(() => detectionConfigSchema.parse({ drift: { action: "explode" } }));
});

test("a level drift that starts soon after a reboot is found within the drift (a session's level is judged after 16 readings)", () => {
  const { detector, findings } = setup();
  const rand = seeded(21);
  const ids = Array.from({ length: 20 }, (_, i) => `dev-${i}`);
  for (const id of ids) detector.connected(id, "sensor", "10.0.0.1:1", T0);
  const warm = 600;
  const ramp = 30;
  let refusedAt = -1;
  let step = 0;
  for (; step < warm + ramp && refusedAt < 0; step++) {
    const now = T0 + step * 1000;
    if (step === warm - 20) {
      // dev-3 reboots; 20 readings into its new session, its readings start moving.
      detector.disconnected("dev-3", now);
      detector.connected("dev-3", "sensor", "10.0.0.1:1", now + 1);
    }
    for (const id of ids) {
      // The level moves (up to +6 sd), the noise does not: only the level test can see it.
      const drift = id === "dev-3" && step >= warm ? (step - warm + 1) / ramp : 0;
      const temp = 21 + 0.3 * (6 * drift + gaussian(rand));
      const pressure = 1013 + 12 * (6 * drift + gaussian(rand));
      const b = body(now, step, Math.round(temp * 10) / 10, Math.round(pressure));
      if (!detector.observe(id, `devices/${id}/telemetry`, b.length, now, b)) refusedAt = step;
    }
  }
  assert.deepEqual(
    findings.map((f) => f.device),
    ["dev-3"],
  );
  assert.ok(refusedAt >= warm && refusedAt < warm + ramp, `refused at ${refusedAt}`);
  assert.match((findings[0]!.evidence as { statistic: string }).statistic, /^level_/);
});
