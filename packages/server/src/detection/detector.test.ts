import assert from "node:assert/strict";
import { test } from "node:test";
import { DETECTION_DEFAULTS, detectionConfigSchema, type DetectionConfig } from "./detection-config.js";
import { Detector, type DetectionEnforcer, type Finding } from "./detector.js";
import { seeded } from "./robust-baseline.test.js";

function setup(overrides: Record<string, unknown> = {}) {
  const config: DetectionConfig = detectionConfigSchema.parse({ ...overrides });
  const findings: Finding[] = [];
  const actions: string[] = [];
  const enforcer: DetectionEnforcer = {
    disconnect: (d) => {
      actions.push(`disconnect ${d}`);
      return true;
    },
    quarantine: async (d) => {
      actions.push(`quarantine ${d}`);
      return 1;
    },
  };
  const pending: (() => void)[] = [];
  const detector = new Detector({
    config,
    emit: (f) => findings.push(f),
    enforcer: () => enforcer,
    schedule: (run) => pending.push(run),
  });
  return { detector, findings, actions, run: () => pending.splice(0).forEach((r) => r()) };
}

/** A fleet of `n` devices of one profile publishing ~`bytes` every ~`periodMs` (seeded jitter). */
function benign(
  d: Detector,
  rand: () => number,
  ids: string[],
  from: number,
  to: number,
  periodMs: number,
  bytes: number,
  run: () => void,
): number {
  let refused = 0;
  for (let t = from; t < to; t += periodMs) {
    for (const id of ids) {
      const at = t + Math.floor(rand() * periodMs * 0.2);
      if (!d.observe(id, `devices/${id}/telemetry`, Math.round(bytes * (0.8 + rand() * 0.4)), at)) refused++;
    }
    run();
  }
  return refused;
}

test("a benign seeded fleet raises nothing; a new device is judged against its peers from its first windows", () => {
  const { detector, findings, run } = setup({ windowMs: 1000, warmupWindows: 5 });
  const rand = seeded(42);
  const ids = Array.from({ length: 20 }, (_, i) => `s-${i}`);
  for (const id of ids) detector.connected(id, "environmental-sensor", "10.0.0.1:1000", 0);
  assert.equal(benign(detector, rand, ids, 0, 120_000, 500, 200, run), 0);
  assert.equal(findings.length, 0);
  // A newcomer: no baseline of its own yet, the peers' applies at once.
  detector.connected("new-1", "environmental-sensor", "10.0.0.2:1000", 120_000);
  assert.equal(benign(detector, rand, ["new-1"], 120_000, 125_000, 500, 200, run), 0);
  assert.ok(Number.isFinite(detector.stateOf("new-1")!.exfilLimit), "the peers' exfiltration limit applies");
  // ... and its first big upload is refused inline.
  assert.equal(detector.observe("new-1", "devices/new-1/telemetry", 60_000, 125_100), false);
  assert.equal(findings.length, 1);
  assert.equal(findings[0]!.rule, "exfiltration");
  assert.equal(findings[0]!.evidence.baseline, "peers");
});

test("exfiltration: the offending message is refused, the device quarantined, detect-to-block recorded; de-duplicated", () => {
  const { detector, findings, actions, run } = setup({ windowMs: 1000, warmupWindows: 5 });
  const rand = seeded(1);
  detector.connected("cam-1", "ip-camera", "10.0.0.9:1", 0);
  benign(detector, rand, ["cam-1"], 0, 30_000, 250, 500, run);
  assert.equal(findings.length, 0);
  assert.equal(detector.observe("cam-1", "devices/cam-1/events", 200_000, 30_100), false);
  assert.equal(detector.observe("cam-1", "devices/cam-1/events", 200_000, 30_200), false, "the next one too");
  assert.equal(detector.observe("cam-1", "vigil/cam-1/ack", 50, 30_300), true, "the control channel stays open");
  assert.equal(findings.length, 1);
  const f = findings[0]!;
  assert.equal(f.rule, "exfiltration");
  assert.equal(f.category, "exfiltration");
  assert.equal(f.action, "quarantine");
  assert.equal(typeof f.detectToBlockMs, "number");
  assert.ok(f.confidence >= 0.5 && f.confidence <= 0.99);
  assert.deepEqual(actions, ["quarantine cam-1"]);
  assert.equal(detector.counters.refused, 2);
});

test("the anomaly model flags a change of behaviour within the device's normal rate and explains it", () => {
  const { detector, findings, run } = setup({ windowMs: 1000, warmupWindows: 5, anomalyWindows: 2 });
  const rand = seeded(9);
  detector.connected("m-1", "smart-meter", "10.0.0.3:1", 0);
  benign(detector, rand, ["m-1"], 0, 60_000, 200, 100, run);
  assert.equal(findings.length, 0);
  // Same bytes, but a new topic each message: topic-set novelty.
  for (let i = 0; i < 40; i++) detector.observe("m-1", `devices/m-1/x${i}`, 100, 60_000 + i * 200);
  run();
  const f = findings.find((x) => x.rule === "behaviour_anomaly");
  assert.ok(f, JSON.stringify(findings));
  const deviations = f.evidence.deviations as { feature: string }[];
  assert.equal(deviations[0]!.feature, "new_topics");
});

test("signal rules: brute force by identity and by source, flapping, reconnaissance, lateral movement, flood, denials, clone", () => {
  const { detector, findings, actions } = setup();
  for (let i = 0; i < 5; i++) detector.refused("d-1", "10.1.1.1:5000", "certificate_revoked", i * 100);
  for (let i = 0; i < 5; i++) detector.refused(null, `10.2.2.2:${6000 + i}`, "certificate_unknown", i * 100);
  detector.refused(null, "10.3.3.3:1", "server_error", 0);
  for (let i = 0; i < 8; i++) detector.connected("d-2", "plc", "10.0.0.4:1", i * 1000);
  for (const f of ["$SYS/#", "factory/a", "factory/b"]) detector.denied("d-3", "subscribe", f, "topic_not_allowed", 1000);
  detector.denied("d-4", "subscribe", "vigil/d-5/cmd", "cross_device_topic", 1000);
  detector.throttled("d-6", "devices/d-6/telemetry", 60, 1000);
  for (let i = 0; i < 5; i++) detector.denied("d-7", "publish", "devices/d-7/x", "qos_too_high", 1000 + i);
  detector.cloned("d-8", ["10.0.0.1:1", "10.9.9.9:2"], false, 1000);
  // De-duplicated: the same rule again within dedupMs raises nothing more.
  detector.throttled("d-6", "devices/d-6/telemetry", 60, 2000);
  assert.deepEqual(
    findings.map((f) => `${f.device} ${f.rule} ${f.action}`),
    [
      "d-1 brute_force none",
      "source:10.2.2.2 brute_force none",
      "d-2 reconnect_flapping none",
      "d-3 topic_reconnaissance quarantine",
      "d-4 lateral_movement quarantine",
      "d-6 flood disconnect",
      "d-7 repeated_denials none",
      "d-8 identity_cloned disconnect",
    ],
  );
  assert.deepEqual(actions, ["quarantine d-3", "quarantine d-4", "disconnect d-6", "disconnect d-8"]);
  assert.equal(findings.find((f) => f.rule === "identity_cloned")!.severity, "critical");
});

test("per-profile overrides, bounded state and eviction of gone devices", () => {
  const { detector, findings } = setup({ maxDevices: 10, idleEvictMs: 1000, profiles: { plc: { flood: { dropped: 500 } } } });
  detector.connected("p-1", "plc", "10.0.0.1:1", 0);
  detector.throttled("p-1", "t", 60, 10);
  assert.equal(findings.length, 0, "the plc's flood threshold is 500");
  for (let i = 0; i < 50; i++) detector.observe(`x-${i}`, "devices/x/telemetry", 10, i);
  assert.ok(detector.deviceCount <= 10);
  detector.disconnected("p-1", 20);
  detector.sweep(10_000);
  assert.equal(detector.deviceCount, 0);
  assert.deepEqual(DETECTION_DEFAULTS.rules.flood, { dropped: 50, windowMs: 10_000 });
});

test("a full model queue is drained at once: no closed window is lost", () => {
  const { detector } = setup({ windowMs: 100, queueCapacity: 16 });
  for (let t = 0; t < 10_000; t += 50) detector.observe("q-1", "devices/q-1/telemetry", 10, t);
  assert.ok(detector.counters.syncDrains > 0);
  // Every closed window reached the model: the peer group learns each (the device's own baseline
  // only those judged once a reference was warm).
  assert.equal(detector.peerOf("")!.baseline.n + detector.queued, detector.counters.windows);
});

/** Publishes ~`perSecond` messages of ~`bytes` from `from` to `to` (seeded jitter), running the model every minute. */
function drive(
  d: Detector,
  id: string,
  rand: () => number,
  from: number,
  to: number,
  perSecond: number,
  run: () => void,
  bytes = 200,
): number {
  let refused = 0;
  let tick = from;
  for (let t = from; t < to; t += (1000 / perSecond) * (0.8 + rand() * 0.4)) {
    if (!d.observe(id, `devices/${id}/telemetry`, Math.round(bytes * (0.9 + rand() * 0.2)), Math.round(t))) refused++;
    if (t - tick >= 60_000) {
      run();
      tick = t;
    }
  }
  run();
  return refused;
}

const HOUR = 3_600_000;

test("time of day: busy by day and quiet by night is not flagged at its busy hour; the same rate at its quiet hour is, explained by the hour", () => {
  const { detector, findings, run } = setup({ windowMs: 60_000, dedupMs: 1000 });
  const rand = seeded(21);
  const day0 = Date.UTC(2026, 0, 5);
  const rateAt = (hour: number) => (hour >= 8 && hour < 20 ? 5 : 0.1);
  detector.connected("lamp-1", "street-light", "10.0.0.5:1", day0 + 8 * HOUR);
  // From 08:00 on day 1, two days of its usual pattern: 5 msg/s from 08:00 to 20:00 UTC, 0.1 msg/s at night.
  for (let h = 8; h < 60; h++) drive(detector, "lamp-1", rand, day0 + h * HOUR, day0 + (h + 1) * HOUR, rateAt(h % 24), run);
  assert.deepEqual(
    findings.map((f) => f.rule),
    [],
    "its busy hours (08:00-12:00 on day 3 included) and each morning's ramp raise nothing",
  );
  // Day 3, 03:00 UTC: the same 5 msg/s it sends every afternoon.
  for (let h = 60; h < 75; h++) drive(detector, "lamp-1", rand, day0 + h * HOUR, day0 + (h + 1) * HOUR, rateAt(h % 24), run);
  assert.equal(findings.length, 0);
  const night = day0 + 75 * HOUR;
  drive(detector, "lamp-1", rand, night, night + 10 * 60_000, 5, run);
  const f = findings.find((x) => x.rule === "behaviour_anomaly");
  assert.ok(f, "the busy rate at its quiet hour is flagged");
  assert.equal(f.evidence.model, "time_of_day");
  assert.equal(f.evidence.hourOfDay, 3);
  const top = (f.evidence.deviations as { feature: string; hour?: number; usualAtHour?: number; value: number }[])[0]!;
  assert.equal(top.feature, "messages_per_s");
  assert.equal(top.hour, 3);
  assert.ok(top.usualAtHour! < 0.2 && top.value > 4, JSON.stringify(top));
});

test("time of day off: the same night-time burst stays within the whole-day baseline (what the hour adds)", () => {
  const { detector, findings, run } = setup({ windowMs: 60_000, dedupMs: 1000, timeOfDay: false });
  const rand = seeded(21);
  const day0 = Date.UTC(2026, 0, 5);
  detector.connected("lamp-1", "street-light", "10.0.0.5:1", day0 + 8 * HOUR);
  for (let h = 8; h < 75; h++)
    drive(detector, "lamp-1", rand, day0 + h * HOUR, day0 + (h + 1) * HOUR, h % 24 >= 8 && h % 24 < 20 ? 5 : 0.1, run);
  drive(detector, "lamp-1", rand, day0 + 75 * HOUR, day0 + 75 * HOUR + 10 * 60_000, 5, run);
  assert.equal(findings.length, 0);
});

test("cold start: an attack in a new profile's first windows is flagged against the declared envelope and never becomes its normal", () => {
  const config = detectionConfigSchema.parse({ windowMs: 10_000, dedupMs: 1000 });
  const findings: Finding[] = [];
  const pending: (() => void)[] = [];
  const detector = new Detector({
    config,
    emit: (f) => findings.push(f),
    schedule: (r) => pending.push(r),
    envelope: (p) => (p === "street-light" ? { maxMessagesPerSecond: 1, burst: 5, maxPayloadBytes: 512 } : undefined),
  });
  const run = () => pending.splice(0).forEach((r) => r());
  const rand = seeded(4);
  detector.connected("lamp-9", "street-light", "10.0.0.9:1", 0);
  // Its first minute: 50 msg/s, 50x its profile's declared rate (small messages: under the
  // exfiltration rule's floor, this is the model's to find); no baseline anywhere is warm.
  drive(detector, "lamp-9", rand, 0, 60_000, 50, run, 30);
  const first = findings.filter((f) => f.rule === "behaviour_anomaly");
  assert.equal(first.length, 1, JSON.stringify(findings));
  assert.equal(first[0]!.evidence.baseline, "profile");
  assert.equal(first[0]!.evidence.model, "envelope");
  const dev = (first[0]!.evidence.deviations as { feature: string; ratio: number }[])[0]!;
  assert.equal(dev.feature, "messages_per_s");
  assert.ok(dev.ratio > 20, JSON.stringify(dev));
  // Then ten quiet minutes at its real rate: that is what it learns.
  drive(detector, "lamp-9", rand, 60_000, 660_000, 0.5, run);
  const own = detector.stateOf("lamp-9")!.baseline;
  assert.ok(own.n >= config.warmupWindows, `own baseline warm (${own.n} windows)`);
  assert.ok(
    (own.mean[0] as number) < 1 && (own.hi[0] as number) < 1,
    `the attack is not its normal: ${own.mean[0]} msg/s, hi ${own.hi[0]}`,
  );
  const before = findings.length;
  // The same burst again is flagged, against its own baseline now.
  drive(detector, "lamp-9", rand, 660_000, 700_000, 50, run, 30);
  const again = findings.slice(before).find((f) => f.rule === "behaviour_anomaly");
  assert.ok(again, "the later identical burst is flagged");
  assert.equal(again.evidence.baseline, "device");
});

test("cold start without an envelope: a new group's first windows seed its baseline by their medians, so an attacker among them is judged by its peers and not learnt", () => {
  const { detector, findings, run } = setup({ windowMs: 1000, warmupWindows: 5, dedupMs: 1000 });
  const rand = seeded(8);
  const ids = Array.from({ length: 10 }, (_, i) => `v-${i}`);
  for (const id of ids) detector.connected(id, "valve", "10.0.0.1:1", 0);
  detector.connected("v-bad", "valve", "10.0.0.2:1", 0);
  // All new at once; v-bad sends 50x its peers' rate from its first message for 20 s, then behaves.
  for (let t = 0; t < 60_000; t += 500) {
    for (const id of ids)
      detector.observe(id, `devices/${id}/telemetry`, Math.round(200 * (0.8 + rand() * 0.4)), t + Math.floor(rand() * 100));
    // (20 B messages: 2 KB/s stays under the exfiltration rule's floor; this is the model's to find.)
    if (t < 20_000) for (let k = 0; k < 50; k++) detector.observe("v-bad", "devices/v-bad/telemetry", 20, t + k * 10);
    else detector.observe("v-bad", "devices/v-bad/telemetry", 200, t + 37);
    run();
  }
  const flagged = new Set(
    findings.filter((f) => f.rule === "behaviour_anomaly").map((f) => `${f.device} ${String(f.evidence.baseline)}`),
  );
  assert.deepEqual([...flagged], ["v-bad peers"], "only the attacker, against its peers");
  const bad = detector.stateOf("v-bad")!.baseline;
  assert.ok((bad.mean[0] as number) < 4, `v-bad's own normal is its quiet rate: ${bad.mean[0]} msg/s`);
  const before = findings.length;
  for (let t = 60_000; t < 64_000; t += 10) detector.observe("v-bad", "devices/v-bad/telemetry", 20, t);
  run();
  detector.observe("v-bad", "devices/v-bad/telemetry", 200, 65_000);
  run();
  assert.ok(
    findings.slice(before).some((f) => f.device === "v-bad" && f.rule === "behaviour_anomaly"),
    "the later burst is flagged",
  );
});
