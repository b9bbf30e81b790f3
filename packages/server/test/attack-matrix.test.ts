// The attack matrix, end to end: for every simulator scenario, one table row saying which
// incident must open, which playbook actions must run in which order, what must be blocked and
// how the device recovers, run through the real gateway, EST door and device SDK. Every row is
// asserted: a scenario the platform does not handle fails its row. docs/attack-matrix.md is the
// same table in prose.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ResponseEventDto } from "@vigil/contract";
import { DeviceSdkError, connect, reprovision } from "../../device-sdk/src/index.js";
import {
  Fleet,
  SignalObserver,
  pickDevice,
  platformTarget,
  runScenario,
  scenarioNames,
  type GroundTruth,
  type VirtualDevice,
} from "../src/simulator/index.js";
import type { Incident } from "../src/response/index.js";
import { recordSignals, waitFor } from "./gateway-support.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";

let t: TestPlatform;
let fleet: Fleet;
let observer: SignalObserver;
const dir = tempDir("vigil-matrix-");
const used = new Set<string>();
const syslog: string[] = [];
const webhook: string[] = [];
let hook: Server;
const udp = createSocket("udp4");
const siemFile = join(dir.path, "events.jsonl");
const WARMUP_WINDOWS = 3;

/** One playbook per attack: what the row expects to run, in this order. */
const PLAYBOOKS = `
- id: m-identity
  match: { rules: [identity_cloned] }
  actions: [{ type: disconnect }, { type: reattest }, { type: notify }]
  approval: { require: never }
- id: m-token
  match: { rules: [token_replayed] }
  actions: [{ type: deny, expiresAfterMs: 60000 }, { type: notify }]
  approval: { require: never }
- id: m-brute
  match: { rules: [brute_force] }
  actions: [{ type: revoke }, { type: notify }]
  approval: { require: never }
- id: m-lateral
  match: { rules: [lateral_movement] }
  actions: [{ type: reattest }, { type: notify }]
  approval: { require: never }
- id: m-recon
  match: { rules: [topic_reconnaissance] }
  actions: [{ type: quarantine, expiresAfterMs: 60000 }, { type: notify }]
  approval: { require: never }
- id: m-flood
  match: { rules: [flood] }
  actions: [{ type: throttle, expiresAfterMs: 60000 }, { type: notify }]
  approval: { require: never }
- id: m-exfil
  match: { rules: [exfiltration] }
  actions: [{ type: quarantine }, { type: notify }]
  approval: { require: never }
- id: m-drift
  match: { rules: [behaviour_anomaly] }
  actions: [{ type: throttle, expiresAfterMs: 20000 }, { type: notify }]
  approval: { require: never }
- id: m-firmware
  match: { rules: [firmware_tampered] }
  actions: [{ type: notify, note: "a device was offered an altered image: check the update store" }]
  approval: { require: never }
- id: m-network
  match: { rules: [network_scan] }
  actions: [{ type: reattest }, { type: notify }]
  approval: { require: never }
- id: m-other
  match: { minSeverity: low }
  actions: [{ type: notify }]
  approval: { require: never }
`;

interface RowContext {
  readonly device: VirtualDevice;
  readonly truth: GroundTruth;
  /** The identity the incident is about (the device, or an actor of the attack). */
  readonly subject: string;
  readonly incident: Incident;
}

interface Row {
  readonly scenario: string;
  readonly durationMs: number;
  /** Detection: the rule the incident must carry. */
  readonly rule: string;
  /** The device the incident is about, from the ground truth (default: the attacked device). */
  readonly subject?: (truth: GroundTruth) => string;
  readonly playbook: string;
  readonly actions: readonly string[];
  /** Block: what the attacker's traffic met. */
  readonly blocked: (c: RowContext) => Promise<void>;
  /** Recovery: the device back through the door's checks, or released. Ends with the incident resolved (or says why not). */
  readonly recover: (c: RowContext) => Promise<void>;
  /**
   * The attack may be cut off before the scenario ends: a refusal of its own connection
   * (SDK_CONNECT_REFUSED) is then the block, not a failure of the run.
   */
  readonly cutOffMidway?: true;
  /**
   * The attack is judged against what normal is for the device: it starts once detection has
   * learnt the device's window baseline (`detection-warmup-windows` windows) and, with
   * "payload", once its payload fields have a reference (24 samples of their own or 64 of its
   * peers'), as for a device installed a minute before it is attacked, not in the seconds after
   * the fleet first connected (the matrix's 14 devices are 2 per profile, some at 1 message in 5 s).
   */
  readonly learnt?: "windows" | "payload";
}

const signalsOf = (name: Parameters<SignalObserver["of"]>[0], device: string) => observer.of(name, device);

async function resolved(subject: string): Promise<Incident> {
  let found: Incident | undefined;
  await waitFor(
    () => {
      void t.platform.response.list({ limit: 5, device: subject }).then((l) => (found = l[0]));
      return found?.state === "resolved";
    },
    10_000,
    `the incident about ${subject} resolved`,
  );
  return found!;
}

/** A device re-admitted at the door: an operator's claim token bound to it, a NEW key, a new session. */
async function reattestAndReconnect(device: VirtualDevice): Promise<void> {
  await device.stop().catch(() => undefined);
  const { tokens } = await t.platform.enrollment.createTokens({
    profile: device.profile,
    deviceId: device.id,
    ttlSeconds: 600,
    count: 1,
    by: "operator",
  });
  await reprovision({ server: t.platform.url, dir: device.dir, token: tokens[0]! });
  const inc = (await t.platform.response.list({ limit: 1, device: device.id }))[0];
  assert.equal(inc?.state, "recovering", "re-admitted at the door: recovering until it connects");
  const session = await connect({ url: t.platform.gateway.url, dir: device.dir }).catch(async (error: unknown) => {
    const refused = observer.of("gateway.connect_refused", device.id).map((r) => r.reason);
    const incidents = (await t.platform.response.list({ limit: 5, device: device.id })).map(
      (i) => `${i.state}:${i.timeline.map((e) => e.summary).join(" / ")}`,
    );
    throw new Error(`${(error as Error).message}; refusals [${refused.join(", ")}]; incidents ${incidents.join(" | ")}`);
  });
  try {
    await resolved(device.id);
    assert.notEqual(t.platform.gateway.policyOf(device.id)?.tier, "quarantine");
  } finally {
    await session.close();
  }
}

/**
 * A mitigation with an expiry: the clock moves just past it, the sweep lifts it, the live session
 * is back. Only as far as needed: certificates issued later (the brute-force row's rogue) are
 * backdated 5 minutes, and a platform clock further ahead of the TLS stack's makes them not yet valid.
 */
async function expireAndRelease(device: VirtualDevice, incident: Incident): Promise<void> {
  if (!t.platform.gateway.isConnected(device.id)) await device.resume();
  await waitFor(() => t.platform.gateway.isConnected(device.id), 10_000, `${device.id} connected`).catch((error: unknown) => {
    const refused = observer.of("gateway.connect_refused", device.id).map((r) => r.reason);
    const gone = observer.of("gateway.disconnected", device.id).map((r) => r.reason);
    throw new Error(`${(error as Error).message}; refusals [${refused.join(", ")}]; disconnects [${gone.join(", ")}]`);
  });
  const until = incident.mitigation?.until;
  assert.ok(typeof until === "number", `the mitigation expires: ${JSON.stringify(incident.mitigation)}`);
  t.clock.advance(Math.max(0, until - t.clock.now()) + 1_000);
  await t.platform.response.sweep();
  await resolved(device.id);
  assert.equal(t.platform.response.floor(device.id, "trusted"), "trusted");
}

const ROWS: readonly Row[] = [
  {
    scenario: "recon",
    durationMs: 3_000,
    rule: "topic_reconnaissance",
    playbook: "m-recon",
    actions: ["quarantine", "notify"],
    async blocked({ truth, device }) {
      const d = truth.detail as { refused: number; granted: string[] };
      assert.ok(d.refused >= 3, `probes refused (SUBACK 0x80): ${d.refused}`);
      assert.deepEqual(d.granted, [], "no probe granted");
      assert.equal(t.platform.gateway.policyOf(device.id)?.tier ?? "quarantine", "quarantine");
    },
    async recover({ device, incident }) {
      // Probes that reached other devices' topics are also lateral movement: m-lateral then
      // re-attests the device; otherwise the quarantine expires.
      await t.platform.response.idle();
      const revoked = (await t.platform.store.devices.get(device.id as never))?.state === "revoked";
      if (revoked) await reattestAndReconnect(device);
      else await expireAndRelease(device, (await t.platform.response.get(incident.id))!);
    },
  },
  {
    scenario: "flood",
    durationMs: 4_000,
    rule: "flood",
    playbook: "m-flood",
    actions: ["throttle", "notify"],
    async blocked({ device, truth }) {
      const dropped = signalsOf("gateway.throttled", device.id).reduce((n, s) => n + (s.dropped ?? 0), 0);
      assert.ok(dropped > 0, `the rate limit dropped the excess (${dropped} of ${(truth.detail as { sent: number }).sent})`);
      assert.equal(t.platform.gateway.policyOf(device.id)?.tier ?? "restricted", "restricted", "throttled by the playbook");
    },
    recover: async ({ device, incident }) => expireAndRelease(device, incident),
  },
  {
    // Slow exfiltration stays within the byte-rate rule; the window model sees its payload sizes.
    scenario: "exfil-slow",
    durationMs: 6_000,
    learnt: "windows",
    rule: "behaviour_anomaly",
    playbook: "m-drift",
    actions: ["throttle", "notify"],
    async blocked({ device }) {
      assert.equal(t.platform.gateway.policyOf(device.id)?.tier ?? "restricted", "restricted", "payload limit halved");
    },
    recover: async ({ device, incident }) => expireAndRelease(device, incident),
  },
  {
    scenario: "exfil-burst",
    durationMs: 3_000,
    learnt: "windows",
    rule: "exfiltration",
    playbook: "m-exfil",
    actions: ["quarantine", "notify"],
    async blocked({ device }) {
      assert.ok(signalsOf("gateway.denied", device.id).length > 0, "the oversize message was denied");
    },
    async recover({ device, incident }) {
      if (!t.platform.gateway.isConnected(device.id)) await device.resume();
      await waitFor(() => t.platform.gateway.isConnected(device.id), 10_000, `${device.id} connected`);
      await t.platform.response.release(incident.id, "operator");
      await resolved(device.id);
    },
  },
  {
    scenario: "cloned-identity",
    durationMs: 2_000,
    cutOffMidway: true,
    rule: "identity_cloned",
    playbook: "m-identity",
    actions: ["disconnect", "reattest", "notify"],
    async blocked({ device }) {
      assert.equal((await t.platform.store.devices.get(device.id as never))?.state, "revoked", "the copied key is worthless");
    },
    recover: async ({ device }) => reattestAndReconnect(device),
  },
  {
    scenario: "lateral-movement",
    durationMs: 1_000,
    rule: "lateral_movement",
    playbook: "m-lateral",
    actions: ["reattest", "notify"],
    async blocked({ device, truth }) {
      const d = truth.detail as { attempts: number; disconnected: number };
      assert.equal(d.disconnected, d.attempts, "every command to another device cut the session");
      assert.ok(signalsOf("gateway.denied", device.id).length >= d.attempts);
    },
    recover: async ({ device }) => reattestAndReconnect(device),
  },
  {
    // A ramp to +4 sd and doubled noise over 30 s; the attack stops once the playbook acted
    // (about two thirds of the way). Over 6 s (~12 readings) the noise CUSUM reached its
    // threshold only as the ramp ended, or not at all.
    scenario: "behaviour-drift",
    durationMs: 30_000,
    learnt: "payload",
    rule: "behaviour_anomaly",
    playbook: "m-drift",
    actions: ["throttle", "notify"],
    async blocked({ device }) {
      // The throttle holds the device at restricted whenever it connects (it may be between
      // sessions right now: the drift model refuses the offending message inline).
      assert.equal(t.platform.response.floor(device.id, "trusted"), "restricted", "held at restricted by the throttle");
      const live = t.platform.gateway.policyOf(device.id)?.tier;
      assert.ok(live === undefined || live === "restricted" || live === "quarantine", `live session tier ${live}`);
    },
    recover: async ({ device, incident }) => expireAndRelease(device, incident),
  },
  {
    scenario: "token-replay",
    durationMs: 600,
    rule: "token_replayed",
    subject: (truth) => truth.actors[1]!,
    playbook: "m-token",
    actions: ["deny", "notify"],
    async blocked({ truth }) {
      const d = truth.detail as { accepted: number; replayRefused: number; attempts: number };
      assert.equal(d.accepted, 0);
      assert.equal(d.replayRefused, d.attempts, "every replay refused at the door");
    },
    async recover({ truth, subject, incident }) {
      // The claimed identity never got in; the token's rightful owner is enrolled and untouched.
      assert.equal(await t.platform.store.devices.get(subject as never), undefined);
      const owner = (truth.detail as { owner: string }).owner;
      assert.equal((await t.platform.store.devices.get(owner as never))?.state, "active");
      t.clock.advance(61_000);
      await t.platform.response.sweep();
      const after = await t.platform.response.get(incident.id);
      assert.equal(after?.mitigation, null, "the deny expired");
      await t.platform.response.transition(incident.id, "resolved", "operator", "owner verified");
    },
  },
  {
    // Last of the connecting rows: its refusals from 127.0.0.1 trip the gateway's per-source limiter.
    scenario: "brute-force",
    durationMs: 4_000,
    rule: "brute_force",
    subject: (truth) => truth.actors[1]!,
    playbook: "m-brute",
    actions: ["revoke", "notify"],
    async blocked({ truth }) {
      const d = truth.detail as { accepted: number; attempts: number };
      assert.equal(d.accepted, 0, "no guessed identity was accepted");
    },
    async recover({ device, subject, incident }) {
      // The attacker's identity stays revoked for good; the attacked device never lost its session.
      assert.equal((await t.platform.store.devices.get(subject as never))?.state, "revoked");
      assert.equal(incident.mitigation?.releaseOn, "operator");
      assert.ok(device.connected, "the attacked device is untouched");
      const closed = await t.platform.response.transition(incident.id, "resolved", "operator", "attacker identity revoked");
      assert.equal(closed.state, "resolved");
    },
  },
  {
    scenario: "firmware-tamper",
    durationMs: 5_000,
    rule: "firmware_tampered",
    playbook: "m-firmware",
    actions: ["notify"],
    async blocked({ incident, device, truth }) {
      // The attack stops once the playbook acted: the device's refusal is read from the evidence.
      const refused = incident.timeline.find((e) => e.kind === "evidence" && e.data?.signal === "ota.failed");
      assert.equal(refused?.data?.reason, "hash_mismatch", "the device refused the altered image");
      assert.equal(device.firmwareVersion, (truth.detail as { runningBefore: string }).runningBefore);
    },
    async recover({ device, truth, incident }) {
      // The device never ran the altered image: it keeps its good version; an operator resolves.
      assert.equal(device.firmwareVersion, (truth.detail as { runningBefore: string }).runningBefore);
      assert.ok(device.connected);
      const done = await t.platform.response.transition(
        incident.id,
        "resolved",
        "operator",
        "device still on its signed version",
      );
      assert.equal(done.state, "resolved");
    },
  },
  {
    scenario: "firmware-downgrade",
    durationMs: 3_000,
    rule: "firmware_downgrade",
    playbook: "m-other",
    actions: ["notify"],
    async blocked({ truth }) {
      assert.equal((truth.detail as { deviceState: string | null }).deviceState, "failed", "the device refused the old image");
    },
    async recover({ device, truth }) {
      assert.equal(device.firmwareVersion, (truth.detail as { runningBefore: string }).runningBefore);
    },
  },
  {
    scenario: "network-scan",
    durationMs: 1_500,
    rule: "network_scan",
    playbook: "m-network",
    actions: ["reattest", "notify"],
    async blocked({ device, truth }) {
      const d = truth.detail as { alertsFromDevice: number | null; probes: number };
      assert.ok(
        (d.alertsFromDevice ?? 0) > 0,
        `packet analysis flagged the device's probes (${d.alertsFromDevice} of ${d.probes})`,
      );
      const finding = t.platform.detection.findings().find((f) => f.device === device.id && f.rule === "network_scan");
      assert.equal(finding?.action, "quarantine", "quarantined the moment the scan was attributed to it");
      assert.equal((await t.platform.store.devices.get(device.id as never))?.state, "revoked", "re-attestation required");
    },
    recover: async ({ device }) => reattestAndReconnect(device),
  },
];

before(async () => {
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      webhook.push(body);
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  udp.on("message", (m) => syslog.push(m.toString("utf8")));
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", r));
  const playbooks = join(dir.path, "playbooks.yaml");
  writeFileSync(playbooks, PLAYBOOKS);
  const secret = join(dir.path, "hook.secret");
  writeFileSync(secret, "matrix-webhook-secret-0123456789\n", { mode: 0o600 });
  t = await startPlatform({
    flags: {
      "response-playbooks-file": playbooks,
      // Every simulated device and attacker connects from 127.0.0.1: the per-source limiter
      // would otherwise refuse them all alike (without an identity) once the matrix is under way.
      "mqtt-max-connections-per-source": "10000",
      "detection-window-ms": "1000",
      "detection-warmup-windows": String(WARMUP_WINDOWS),
      "detection-rules-flood-dropped": "20",
      "response-tick-ms": "60000",
      "response-webhook-url": `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
      "response-webhook-secret-file": secret,
      "response-siem-file": siemFile,
      "response-syslog-host": "127.0.0.1",
      "response-syslog-port": String(udp.address().port),
    },
  });
  observer = new SignalObserver(t.platform.bus);
  fleet = new Fleet({
    target: platformTarget(t.platform),
    workDir: join(dir.path, "fleet"),
    seed: 7,
    oddities: { reboot: 0, blip: 0 },
  });
  await fleet.start(14, "mixed");
});

after(async () => {
  await fleet.stop();
  observer.stop();
  await t.stop();
  udp.close();
  await new Promise<void>((r) => hook.close(() => r()));
  dir.remove();
});

test("every simulator scenario has a row in the attack matrix", () => {
  const rows = new Set(ROWS.map((r) => r.scenario));
  assert.deepEqual(
    scenarioNames.filter((s) => !rows.has(s)),
    [],
    "add a row (and a line in docs/attack-matrix.md) for every new scenario",
  );
});

for (const row of ROWS) {
  const present = (scenarioNames as readonly string[]).includes(row.scenario);
  test(`${row.scenario}: ${row.rule} -> ${row.playbook} [${row.actions.join(", ")}] -> blocked -> recovered`, async () => {
    assert.ok(present, `the simulator has no ${row.scenario} scenario`);
    const name = row.scenario as (typeof scenarioNames)[number];
    // A clean device: one with a finding already (a benign oddity flagged) would fold the
    // attack's finding into its open incident, and the row would measure the wrong thing.
    const flagged = new Set(t.platform.detection.findings().map((f) => f.device));
    const device = pickDevice(
      name,
      fleet.devices().filter((d) => !used.has(d.id) && d.connected && !flagged.has(d.id)),
    );
    assert.ok(device, "a free device");
    used.add(device.id);
    if (row.learnt !== undefined)
      await waitFor(
        () => {
          const learnt = t.platform.detection.detector.stateOf(device.id);
          return (
            learnt !== undefined && learnt.baseline.n >= WARMUP_WINDOWS && (row.learnt === "windows" || learnt.drift.messages > 0)
          );
        },
        60_000,
        `detection learnt what is normal for ${device.id}`,
      );
    const signals = recordSignals(t.platform, ["response.action_taken", "incident.opened", "finding.raised"]);
    // The attacker stops once the playbook has acted (what a cut-off attacker does).
    const stop = new AbortController();
    const offStop = t.platform.bus.on("response.action_taken", (a) => {
      if (a.by === row.playbook && ++actedOn >= row.actions.length) stop.abort();
    });
    let actedOn = 0;
    try {
      const started = new Date().toISOString();
      const truth = await runScenario({ fleet, signal: stop.signal }, name, device, row.durationMs).catch(
        async (error: unknown): Promise<GroundTruth> => {
          if (row.cutOffMidway && error instanceof DeviceSdkError && error.code === "SDK_CONNECT_REFUSED")
            return {
              device: device.id,
              scenario: name,
              start: started,
              end: new Date().toISOString(),
              actors: [device.id],
              detail: { cutOffMidway: true },
            };
          const refused = observer.of("gateway.connect_refused", device.id).map((r) => r.reason);
          const incidents = await t.platform.response.list({ limit: 5, device: device.id });
          throw new Error(
            `${(error as Error).message}; refusals of ${device.id}: [${refused.join(", ")}]; incidents: ${incidents.map((i) => i.timeline.map((e) => e.summary).join(" / ")).join(" | ")}`,
          );
        },
      );
      const subject = row.subject?.(truth) ?? device.id;
      // Detection -> incident.
      let incident: Incident | undefined;
      try {
        await waitFor(
          () => {
            void t.platform.response.list({ limit: 5, device: subject }).then((l) => {
              incident = l.find((i) => i.rules.includes(row.rule));
            });
            return (
              incident !== undefined &&
              signals.of("response.action_taken").filter((a) => a.device === subject && a.by === row.playbook).length >=
                row.actions.length
            );
          },
          10_000,
          `an incident with ${row.rule} about ${subject} and the ${row.playbook} actions`,
        );
      } catch (error) {
        const seen = (await t.platform.response.list({ limit: 5, device: subject })).map(
          (i) => `${i.rules.join("+")}/${i.playbooks.join("+")}`,
        );
        const findings = signals.of("finding.raised").map((f) => `${f.device}:${f.rule}`);
        const refusals = observer.of("gateway.connect_refused", subject).map((r) => r.reason);
        throw new Error(
          `${(error as Error).message}; incidents: [${seen.join(", ")}]; findings: [${findings.join(", ")}]; refusals of ${subject}: [${refusals.join(", ")}]; attack: ${JSON.stringify(truth.detail)}`,
        );
      }
      await t.platform.response.idle();
      incident = (await t.platform.response.get(incident!.id))!;
      // Playbook: its actions, in order, all done.
      assert.equal(incident.playbooks[0], row.playbook);
      const ran = signals.of("response.action_taken").filter((a) => a.device === subject && a.by === row.playbook);
      assert.deepEqual(
        ran.map((a) => a.action),
        row.actions,
      );
      assert.ok(
        ran.every((a) => a.outcome === "done"),
        JSON.stringify(ran),
      );
      const c = { device, truth, subject, incident };
      await row.blocked(c);
      await row.recover(c);
    } finally {
      offStop();
      signals.stop();
    }
  });
}

test("every event sent out has the stable schema, and the webhook, syslog and JSON stream carried the same events", async () => {
  await t.platform.response.drainSinks();
  const lines = readFileSync(siemFile, "utf8").trim().split("\n");
  assert.ok(lines.length >= 10, `${lines.length} events`);
  const ids = lines.map((l) => {
    const parsed = ResponseEventDto.safeParse(JSON.parse(l));
    assert.ok(parsed.success, `${l.slice(0, 200)}: ${parsed.success ? "" : parsed.error.message}`);
    return parsed.data.id;
  });
  assert.deepEqual(
    webhook.map((b) => (JSON.parse(b) as { id: string }).id),
    ids,
    "the webhook got every event, in order",
  );
  await waitFor(() => syslog.length >= ids.length, 5_000, "syslog datagrams");
  assert.deepEqual(
    syslog.map((m) => /externalId=(\S+)/.exec(m)?.[1]),
    ids,
    "one syslog message per event, in order",
  );
});
