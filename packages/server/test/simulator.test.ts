import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  Fleet,
  SignalObserver,
  analyse,
  formatReport,
  platformTarget,
  runScenario,
  runTimeline,
  type GroundTruth,
  type VirtualDevice,
} from "../src/simulator/index.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";
import { waitFor } from "./gateway-support.js";

let t: TestPlatform;
let fleet: Fleet;
let observer: SignalObserver;
const dir = tempDir("vigil-sim-");
const delivered = new Map<string, { at: number; payload: Buffer }[]>();
let unsubscribe: () => Promise<void>;

function deviceOf(profile: string): VirtualDevice {
  const d = fleet.devices().find((x) => x.profile === profile);
  assert.ok(d, `a ${profile} in the fleet`);
  return d;
}

const ctx = () => ({ fleet, signal: new AbortController().signal });

before(async () => {
  t = await startPlatform();
  observer = new SignalObserver(t.platform.bus);
  unsubscribe = await t.platform.gateway.subscribe("devices/#", (topic, payload) => {
    const device = topic.split("/")[1] ?? "";
    const list = delivered.get(device) ?? [];
    if (list.length < 2_000) list.push({ at: Date.now(), payload });
    delivered.set(device, list);
  });
  // Benign oddities off: the benign-fleet assertion below must not depend on chance.
  fleet = new Fleet({
    target: platformTarget(t.platform),
    workDir: join(dir.path, "fleet"),
    seed: 42,
    oddities: { reboot: 0, blip: 0 },
  });
  await fleet.start(10, "mixed");
});

after(async () => {
  await fleet.stop();
  await unsubscribe();
  observer.stop();
  await t.stop();
  dir.remove();
});

test("a mixed fleet enrolls with claim tokens, connects over mTLS and stays within its profiles", async () => {
  const stats = fleet.stats();
  assert.equal(stats.devices, 10);
  assert.equal(stats.enrollFailures + stats.connectFailures, 0);
  assert.equal(Object.keys(stats.byProfile).length, 7, "every profile is represented");
  for (const d of fleet.devices()) assert.ok(t.platform.gateway.isConnected(d.id), `${d.id} has a gateway session`);
  // Telemetry passes the gate and reaches in-process consumers.
  await waitFor(() => delivered.size >= 4, 15_000, "telemetry from several devices");
  await waitFor(() => fleet.stats().completed > 10, 15_000, "publishes completed");
  const ids = new Set(fleet.devices().map((d) => d.id));
  const flagged = observer.signals.filter(
    (s) =>
      s.device !== null &&
      ids.has(s.device) &&
      (s.name === "gateway.denied" || s.name === "gateway.throttled" || s.name === "gateway.connect_refused"),
  );
  assert.deepEqual(flagged, [], "a benign fleet is never denied or throttled");
});

test("flood: the device really exceeds its profile's rate and the gateway drops the excess", async () => {
  const device = deviceOf("environmental-sensor");
  const truth = await runScenario(ctx(), "flood", device, 2_500);
  const detail = truth.detail as { sent: number; achievedRatePerSecond: number; profileRatePerSecond: number };
  assert.ok(detail.achievedRatePerSecond > detail.profileRatePerSecond * 10, JSON.stringify(detail));
  await waitFor(
    () => observer.of("gateway.throttled", device.id).reduce((n, s) => n + s.dropped, 0) > 0,
    5_000,
    "throttled signal",
  );
  const dropped = observer.of("gateway.throttled", device.id).reduce((n, s) => n + s.dropped, 0);
  assert.ok(dropped >= detail.sent / 2, `most of the ${detail.sent} messages were dropped (${dropped})`);
});

test("recon: wildcard and cross-device subscriptions get SUBACK 0x80 and a denial each", async () => {
  const device = deviceOf("ip-camera");
  const truth = await runScenario(ctx(), "recon", device, 1_000);
  const detail = truth.detail as { filters: number; refused: number; granted: string[] };
  assert.equal(detail.refused, detail.filters, `nothing granted: ${detail.granted.join(", ")}`);
  await waitFor(() => observer.of("gateway.denied", device.id).length >= detail.filters, 5_000, "denials");
  assert.ok(observer.of("gateway.denied", device.id).every((s) => s.name === "gateway.denied"));
  await waitFor(() => device.connected, 10_000, "the device is back to normal");
});

test("lateral movement: publishing on another device's cmd topic is denied and cuts the session", async () => {
  const device = deviceOf("plc");
  const truth = await runScenario(ctx(), "lateral-movement", device, 1_000);
  const detail = truth.detail as { attempts: number; disconnected: number; topics: string[] };
  assert.ok(detail.attempts >= 2);
  assert.equal(detail.disconnected, detail.attempts);
  assert.ok(detail.topics.some((topic) => /^vigil\/.+\/cmd$/.test(topic)));
  await waitFor(() => observer.of("gateway.denied", device.id).length >= detail.attempts, 5_000, "denials");
  assert.ok(observer.of("gateway.disconnected", device.id).some((s) => s.reason === "policy_violation"));
});

test("cloned identity: the same certificate from a second connection raises identity.cloned_suspected", async () => {
  const device = deviceOf("smart-meter");
  await runScenario(ctx(), "cloned-identity", device, 2_000);
  await waitFor(() => observer.of("identity.cloned_suspected", device.id).length > 0, 5_000, "cloned_suspected");
  await waitFor(() => device.connected, 15_000, "the genuine device reconnects");
});

test("token replay: a used claim token presented again is refused and raises enrollment.token_replayed", async () => {
  const device = deviceOf("infusion-pump");
  const truth = await runScenario(ctx(), "token-replay", device, 600);
  const detail = truth.detail as { attempts: number; replayRefused: number; accepted: number };
  assert.equal(detail.accepted, 0);
  assert.equal(detail.replayRefused, detail.attempts);
  const replayed = observer.signals.filter(
    (s) => s.name === "enrollment.token_replayed" && truth.actors.includes(s.device ?? ""),
  );
  assert.equal(replayed.length, detail.attempts);
});

test("brute force: CONNECTs with other identities and without certificates are all refused", async () => {
  const device = deviceOf("vehicle-telematics");
  const startedAt = Date.now();
  const truth = await runScenario(ctx(), "brute-force", device, 1_500);
  const detail = truth.detail as { attempts: number; identifierRejected: number; handshakeRefused: number; accepted: number };
  assert.ok(detail.attempts >= 4, JSON.stringify(detail));
  assert.equal(detail.accepted, 0);
  assert.ok(detail.identifierRejected > 0 && detail.handshakeRefused > 0, JSON.stringify(detail));
  const rogue = truth.actors[1]!;
  const refused = observer.signals.filter((s) => s.name === "gateway.connect_refused" && s.at >= startedAt);
  assert.equal(refused.filter((s) => s.device === rogue && s.reason === "client_id_mismatch").length, detail.identifierRejected);
  assert.ok(refused.some((s) => s.device === null && s.reason.startsWith("tls_")));
});

test("exfiltration: slow exfil stays within limits at a volume far above baseline; burst exfil ends beyond the limit", async () => {
  const monitor = deviceOf("patient-monitor");
  const baseline = delivered.get(monitor.id) ?? [];
  const baselineAvg = baseline.reduce((n, m) => n + m.payload.length, 0) / Math.max(1, baseline.length);
  const slow = await runScenario(ctx(), "exfil-slow", monitor, 2_500);
  const s = slow.detail as { sent: number; bytes: number; payloadBytes: number };
  assert.ok(s.sent >= 2);
  assert.ok(s.payloadBytes > baselineAvg * 10, `${s.payloadBytes} vs baseline ${baselineAvg}`);
  assert.equal(observer.of("gateway.denied", monitor.id).length, 0, "within the policy: nothing to deny");

  const pump = deviceOf("infusion-pump");
  const burst = await runScenario(ctx(), "exfil-burst", pump, 1_500);
  const b = burst.detail as { withinLimit: number; oversizeBytes: number; profileMaxPayloadBytes: number };
  assert.ok(b.withinLimit >= 1 && b.oversizeBytes > b.profileMaxPayloadBytes);
  await waitFor(() => observer.of("gateway.denied", pump.id).length > 0, 5_000, "the oversize message denied");
});

test("behaviour drift and the timeline: readings move away from normal; ground truth is written as JSONL", async () => {
  const plc = fleet.devices().filter((d) => d.profile === "plc")[1] ?? deviceOf("plc");
  const residual = (m: { payload: Buffer }) => {
    const tags = (JSON.parse(m.payload.toString()) as { tags?: Record<string, number> }).tags ?? {};
    const values = Object.entries(tags).map(([k, v]) => v - (50 + Number(k.slice(3)) * 3));
    return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  };
  const file = join(dir.path, "truth.jsonl");
  const startedAt = Date.now();
  const run = await runTimeline(fleet, [{ scenario: "behaviour-drift", atMs: 0, durationMs: 3_000, device: plc.id }], {
    groundTruthFile: file,
  });
  assert.deepEqual(run.errors, []);
  const lines = (await readFile(file, "utf8")).trim().split("\n");
  assert.equal(lines.length, 1);
  const truth = JSON.parse(lines[0]!) as GroundTruth;
  assert.equal(truth.device, plc.id);
  assert.equal(truth.scenario, "behaviour-drift");
  assert.ok(Date.parse(truth.end) > Date.parse(truth.start));
  const messages = (delivered.get(plc.id) ?? []).filter((m) => m.payload.includes('"tags"'));
  const before = messages.filter((m) => m.at < startedAt).slice(-6);
  const late = messages.filter((m) => m.at > Date.parse(truth.end) - 800 && m.at <= Date.parse(truth.end));
  assert.ok(before.length >= 2 && late.length >= 1, `${before.length} before, ${late.length} late`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(late.map(residual)) - mean(before.map(residual)) > 1, "the mean moved by more than 2 sd");

  // The report matches the attack with what the platform did. The gateway's policy has nothing
  // to deny (the drift stays within every limit); whether detection spots a 3 s drift depends on
  // how many readings it got, so the report is checked against the findings actually raised.
  assert.equal(observer.of("gateway.denied", plc.id).length, 0, "within the policy: nothing denied");
  const report = analyse([truth], observer.signals);
  const attack = report.attacks[0]!;
  const start = Date.parse(truth.start);
  const named = observer.signals.some(
    (x) => x.name === "finding.raised" && x.device === plc.id && x.at >= start && x.at <= Date.parse(truth.end) + 5_000,
  );
  assert.equal(attack.detectedAfterMs !== null, named, "the report's detection is the findings raised about the device");
  assert.match(
    formatReport(report, fleet.stats()),
    named ? /behaviour drift on .*: .*detected .* after it began/ : /behaviour drift on .*not blocked/,
  );
});
