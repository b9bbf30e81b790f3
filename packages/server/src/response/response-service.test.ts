import assert from "node:assert/strict";
import { test } from "node:test";
import { InProcessBus, ManualClock } from "../core/index.js";
import { createRootLogger } from "../core/index.js";
import type { Profile, Tier } from "../policy/index.js";
import type { SignalMap, SignalName } from "../signals/index.js";
import { measuresOf } from "./incident.js";
import { MemoryIncidentRepository } from "./memory-incident-repository.js";
import type { EventSink, OutgoingEvent } from "./outgoing-event.js";
import { defaultPlaybooks, parsePlaybooks, type Playbook } from "./playbook.js";
import { ResponseService } from "./response-service.js";

const log = createRootLogger({ level: "silent" });

class FakeSessions {
  readonly calls: string[] = [];
  readonly tiers = new Map<string, Tier>();
  live = true;
  async applyTier(device: string, tier: Tier, _reason: string): Promise<number> {
    this.calls.push(`tier ${device} ${tier}`);
    this.tiers.set(device, tier);
    return this.live ? 1 : 0;
  }
  disconnect(device: string): boolean {
    this.calls.push(`disconnect ${device}`);
    return this.live;
  }
}

class FakeSink implements EventSink {
  readonly name = "fake";
  readonly events: OutgoingEvent[] = [];
  send(e: OutgoingEvent): void {
    this.events.push(e);
  }
  async drain(): Promise<void> {}
  async stop(): Promise<void> {}
}

const profiles: Record<string, Pick<Profile, "vertical" | "safetyCritical">> = {
  "ip-camera": { vertical: "smart-city", safetyCritical: false },
  "infusion-pump": { vertical: "healthcare", safetyCritical: true },
};
const deviceProfiles: Record<string, string> = { "cam-1": "ip-camera", "pump-1": "infusion-pump" };

function setup(playbooks: Playbook[] = defaultPlaybooks()) {
  const bus = new InProcessBus<SignalMap>();
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const sessions = new FakeSessions();
  const sink = new FakeSink();
  const repository = new MemoryIncidentRepository();
  const revoked: string[] = [];
  const readmissions: string[] = [];
  const vulns = { open: 0 };
  const seen: { name: SignalName; payload: unknown }[] = [];
  bus.onAny((name, payload) => seen.push({ name, payload }));
  const service = new ResponseService({
    repository,
    bus,
    clock,
    log,
    settings: { groupWindowMs: 60_000, approvalTimeoutMs: 30_000, tickMs: 60_000 },
    playbooks,
    profileOf: async (d) => deviceProfiles[d] ?? null,
    profiles: (id) => profiles[id] as Profile | undefined,
    vertical: "auto",
    sessions: () => sessions,
    revoker: {
      revokeDevice: async (d) => {
        revoked.push(d);
        return ["01"];
      },
    },
    naturalTier: async () => "standard",
    sinks: [sink],
    openVulnerabilities: () => vulns.open,
    readmitter: {
      require: async (r) => {
        readmissions.push(`${r.device}:${r.reason}`);
      },
    },
  });
  const finding = (device: string, rule = "lateral_movement", severity: "low" | "medium" | "high" | "critical" = "high") =>
    bus.emit("finding.raised", {
      id: `f-${seen.length}`,
      device,
      rule,
      severity,
      category: "scanning",
      evidence: JSON.stringify({ topic: "vigil/x/cmd", firstEventAt: clock.now() - 2_000 }),
    });
  const signals = (name: SignalName) => seen.filter((s) => s.name === name).map((s) => s.payload as Record<string, unknown>);
  return { bus, clock, sessions, sink, repository, service, finding, signals, revoked, readmissions, vulns };
}

test("a high finding opens an incident, the vertical's playbook quarantines, release and reconnect resolve it", async () => {
  const s = setup();
  await s.service.start();
  s.finding("cam-1");
  await s.service.idle();
  const [inc] = await s.service.list({ limit: 10 });
  assert.equal(inc!.state, "contained");
  assert.deepEqual(inc!.playbooks, ["smart-city-contain"]);
  assert.deepEqual(s.sessions.calls, ["tier cam-1 quarantine"]);
  assert.equal(inc!.mitigation?.tier, "quarantine");
  assert.equal(s.service.floor("cam-1", "trusted"), "quarantine");
  const m = measuresOf(inc!);
  assert.equal(m.mttd, 2_000);
  assert.equal(m.timeToContain, 0);
  assert.equal(m.mttr, null);
  // Trust's later tier change cannot lift it.
  const guarded = s.service.guard(s.sessions);
  await guarded.applyTier("cam-1", "standard", "trust");
  assert.equal(s.sessions.tiers.get("cam-1"), "quarantine");

  s.clock.advance(5_000);
  const released = await s.service.release(inc!.id, "alice");
  assert.equal(released.state, "resolved"); // the live session is back at its own tier
  assert.equal(s.sessions.tiers.get("cam-1"), "standard");
  assert.equal(measuresOf(released).mttr, 5_000);
  assert.deepEqual(
    s.signals("incident.state_changed").map((x) => x.to),
    ["contained", "recovering", "resolved"],
  );
  assert.deepEqual(
    s.signals("response.action_taken").map((x) => `${String(x.action)}:${String(x.outcome)}`),
    ["quarantine:done", "notify:done", "release:done"],
  );
  const closed = await s.service.transition(inc!.id, "closed", "alice");
  assert.equal(closed.state, "closed");
  await assert.rejects(s.service.transition(inc!.id, "resolved", "alice"), { code: "INCIDENT_TRANSITION_INVALID" });
  const persisted = await s.repository.get(inc!.id);
  assert.ok(persisted!.timeline.some((e) => e.kind === "evidence" && e.ref !== null));
  assert.ok(s.sink.events.some((e) => e.type === "incident.notified" && e.schema === "vigil.response.v1"));
  await s.service.stop();
});

test("duplicate findings within the window group into one incident; after the window a new one opens", async () => {
  const s = setup();
  await s.service.start();
  s.finding("cam-1", "repeated_denials", "medium");
  s.finding("cam-1", "repeated_denials", "medium");
  s.clock.advance(30_000);
  s.finding("cam-1", "topic_reconnaissance", "medium");
  await s.service.idle();
  let all = await s.service.list({ limit: 10 });
  assert.equal(all.length, 1);
  assert.equal(all[0]!.evidenceCount, 3);
  assert.deepEqual(all[0]!.rules, ["repeated_denials", "topic_reconnaissance"]);
  assert.deepEqual(all[0]!.playbooks, ["smart-city-notify"]); // one run per playbook
  assert.equal(s.signals("incident.opened").length, 1);
  s.clock.advance(61_000);
  s.finding("cam-1", "repeated_denials", "medium");
  await s.service.idle();
  all = await s.service.list({ limit: 10 });
  assert.equal(all.length, 2);
  await s.service.stop();
});

test("a safety-critical pump: disruptive actions wait for approval and time out to the safe default (throttle)", async () => {
  const s = setup();
  await s.service.start();
  s.finding("pump-1");
  await s.service.idle();
  let [inc] = await s.service.list({ limit: 1 });
  assert.equal(inc!.state, "open");
  assert.ok(inc!.approval !== null);
  assert.deepEqual(s.sessions.calls, []); // nothing disruptive yet; notify ran
  assert.equal(s.signals("response.approval_requested")[0]!.onTimeout, "throttle");
  s.clock.advance(29_000);
  await s.service.sweep();
  assert.deepEqual(s.sessions.calls, []);
  s.clock.advance(1_000);
  await s.service.sweep();
  [inc] = await s.service.list({ limit: 1 });
  assert.equal(inc!.approval, null);
  assert.deepEqual(s.sessions.calls, ["tier pump-1 restricted"]);
  assert.equal(inc!.state, "contained");
  assert.equal(s.signals("response.approval_decided")[0]!.decision, "timed_out");
  await s.service.stop();
});

test("an operator approves: the waiting actions run in order; deny skips them", async () => {
  const s = setup();
  await s.service.start();
  s.finding("pump-1");
  await s.service.idle();
  const [inc] = await s.service.list({ limit: 1 });
  await s.service.decide(inc!.id, "approved", "alice");
  assert.deepEqual(s.sessions.calls, ["tier pump-1 quarantine"]);
  await assert.rejects(s.service.decide(inc!.id, "denied", "alice"), { code: "INCIDENT_NO_PENDING_APPROVAL" });

  s.finding("pump-2-unknown");
  await s.service.idle();
  await assert.rejects(s.service.decide("inc-nope", "denied", "alice"), { code: "INCIDENT_NOT_FOUND" });
  await s.service.stop();
});

test("quarantine with an expiry lifts itself; re-attestation lifts a revocation", async () => {
  const playbooks = parsePlaybooks(`
- id: short
  match: { rules: [flood] }
  actions: [{ type: quarantine, expiresAfterMs: 10000 }]
- id: reattest
  match: { rules: [identity_cloned] }
  actions: [{ type: reattest }]
  approval: { require: never }
`);
  const s = setup(playbooks);
  await s.service.start();
  s.sessions.live = false;
  s.finding("cam-1", "flood", "medium");
  await s.service.idle();
  s.clock.advance(10_000);
  await s.service.sweep();
  let [inc] = await s.service.list({ limit: 1 });
  assert.equal(inc!.state, "recovering"); // not connected: recovered only once admitted again
  s.bus.emit("gateway.connected", { device: "cam-1", remote: "127.0.0.1", serial: "01", profile: "ip-camera", tier: "standard" });
  await s.service.idle();
  [inc] = await s.service.list({ limit: 1 });
  assert.equal(inc!.state, "resolved");

  s.bus.emit("identity.cloned_suspected", {
    device: "pump-1",
    remotes: ["10.0.0.1", "10.0.0.2"],
    sameHost: false,
    serials: ["01"],
  });
  await s.service.idle();
  assert.deepEqual(s.revoked, ["pump-1"]);
  assert.deepEqual(s.readmissions, ["pump-1:reattestation"], "on the re-admission list before it was revoked");
  let [pump] = await s.service.list({ limit: 1, device: "pump-1" });
  assert.equal(pump!.mitigation?.releaseOn, "reattestation");
  s.bus.emit("enrollment.completed", {
    device: "pump-1",
    method: "manufacturer-certificate",
    strength: 3,
    profile: "infusion-pump",
    firmwareVersion: null,
    sbomRef: null,
    keyType: "ec-p256",
    serial: "02",
    remote: "127.0.0.1",
  });
  await s.service.idle();
  [pump] = await s.service.list({ limit: 1, device: "pump-1" });
  assert.equal(pump!.mitigation, null);
  assert.equal(pump!.state, "recovering", "recovered at the door; back once it connects with the new certificate");
  s.bus.emit("gateway.connected", {
    device: "pump-1",
    remote: "127.0.0.1",
    serial: "02",
    profile: "infusion-pump",
    tier: "restricted",
  });
  await s.service.idle();
  [pump] = await s.service.list({ limit: 1, device: "pump-1" });
  assert.equal(pump!.state, "resolved");
  await s.service.stop();
});

test("notes are on the timeline; a restart rebuilds active mitigations from the repository", async () => {
  const s = setup();
  await s.service.start();
  s.finding("cam-1");
  await s.service.idle();
  const [inc] = await s.service.list({ limit: 1 });
  await s.service.note(inc!.id, "camera on the 3rd floor", "bob");
  await s.service.stop();
  const again = new ResponseService({
    repository: s.repository,
    bus: s.bus,
    clock: s.clock,
    log,
    settings: { groupWindowMs: 60_000, approvalTimeoutMs: 30_000, tickMs: 60_000 },
    playbooks: [],
    profileOf: async () => null,
    profiles: () => undefined,
    vertical: "auto",
    sessions: () => undefined,
    naturalTier: async () => "standard",
  });
  await again.start();
  assert.equal(again.floor("cam-1", "standard"), "quarantine");
  const got = await again.get(inc!.id);
  assert.ok(got!.timeline.some((e) => e.kind === "note" && e.by === "bob"));
  await again.stop();
});

test("releaseOn patched: held while vulnerabilities are open after the install, lifted once the assessment is clean", async () => {
  const s = setup(
    parsePlaybooks(`
- id: patch-me
  match: { rules: [flood] }
  actions: [{ type: throttle, releaseOn: patched }]
  approval: { require: never }
`),
  );
  await s.service.start();
  s.vulns.open = 2;
  s.finding("cam-1", "flood", "medium");
  await s.service.idle();
  // A vulnerability resolved before any firmware report does not count as patched.
  s.vulns.open = 0;
  s.bus.emit("vulnerability.resolved", { device: "cam-1", advisoryId: "CVE-1", firmwareVersion: "1.0.0" });
  await s.service.idle();
  let [inc] = await s.service.list({ limit: 1 });
  assert.equal(inc!.mitigation?.releaseOn, "patched");
  s.vulns.open = 1;
  s.bus.emit("ota.installed", { device: "cam-1", version: "2.0.0", previousVersion: "1.0.0", campaign: "cmp-1" });
  await s.service.idle();
  [inc] = await s.service.list({ limit: 1 });
  assert.equal(inc!.mitigation?.tier, "restricted", "still held: one vulnerability open");
  assert.ok(inc!.timeline.some((e) => e.summary === "still held: firmware 2.0.0 installed but 1 vulnerability open"));
  s.vulns.open = 0;
  s.bus.emit("vulnerability.resolved", { device: "cam-1", advisoryId: "CVE-2", firmwareVersion: "2.0.0" });
  await s.service.idle();
  [inc] = await s.service.list({ limit: 1 });
  assert.equal(inc!.mitigation, null);
  assert.ok(inc!.timeline.some((e) => e.summary.includes("patched: firmware 2.0.0 assessed, assessment clean")));
  await s.service.stop();
});

test("an image refused for not matching its signed metadata opens a firmware_tampered incident; ordinary OTA failures do not", async () => {
  const s = setup();
  await s.service.start();
  s.bus.emit("ota.failed", {
    device: "cam-1",
    version: "2.0.0",
    campaign: "cmp-1",
    reason: "download_failed",
    runningVersion: "1.0.0",
  });
  await s.service.idle();
  assert.equal((await s.service.list({ limit: 5 })).length, 0, "a failed download is not evidence");
  s.bus.emit("ota.failed", {
    device: "cam-1",
    version: "2.0.0",
    campaign: "cmp-1",
    reason: "hash_mismatch",
    runningVersion: "1.0.0",
  });
  await s.service.idle();
  const [inc] = await s.service.list({ limit: 5 });
  assert.deepEqual(inc!.rules, ["firmware_tampered"]);
  assert.equal(inc!.severity, "high");
  assert.ok(inc!.timeline.some((e) => e.kind === "evidence" && (e.data as { reason?: string }).reason === "hash_mismatch"));
  await s.service.stop();
});

test("an update no campaign sent, refused by the device, opens a firmware_downgrade or firmware_tampered incident", async () => {
  const s = setup();
  await s.service.start();
  s.bus.emit("ota.refused", { device: "cam-1", campaign: "forged", reason: "download_failed", version: "0.9.0" });
  await s.service.idle();
  assert.equal((await s.service.list({ limit: 5 })).length, 0, "a failed download is not evidence of an attack");
  s.bus.emit("ota.refused", { device: "cam-1", campaign: "forged", reason: "downgrade", version: "0.9.0" });
  s.bus.emit("ota.refused", { device: "cam-2", campaign: "forged", reason: "signature_invalid", version: "9.9.9" });
  await s.service.idle();
  const byDevice = new Map((await s.service.list({ limit: 5 })).map((i) => [String(i.device), i]));
  assert.deepEqual(byDevice.get("cam-1")?.rules, ["firmware_downgrade"]);
  assert.deepEqual(byDevice.get("cam-2")?.rules, ["firmware_tampered"]);
  assert.ok(
    byDevice.get("cam-1")!.timeline.some((e) => e.kind === "evidence" && (e.data as { reason?: string }).reason === "downgrade"),
  );
  await s.service.stop();
});
