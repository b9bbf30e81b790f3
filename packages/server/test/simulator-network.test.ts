import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decodePacket, newDecodedPacket, readCapture } from "../src/network/index.js";
import {
  Fleet,
  SignalObserver,
  analyse,
  createRandom,
  platformTarget,
  runScenario,
  writeScanCapture,
} from "../src/simulator/index.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";

let t: TestPlatform;
let fleet: Fleet;
let observer: SignalObserver;
const dir = tempDir("vigil-simnet-");

before(async () => {
  t = await startPlatform();
  observer = new SignalObserver(t.platform.bus);
  fleet = new Fleet({
    target: platformTarget(t.platform),
    workDir: join(dir.path, "fleet"),
    seed: 5,
    oddities: { reboot: 0, blip: 0 },
  });
  await fleet.start(3, "city");
});

after(async () => {
  await fleet.stop();
  observer.stop();
  await t.stop();
  dir.remove();
});

/** Reads a capture back and counts what is in it, from the decoded packets (not from the writer's figures). */
async function census(file: string, deviceIp: string) {
  const p = newDecodedPacket();
  const toIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  const syns: { ts: number; dst: string; port: number }[] = [];
  let other = 0;
  await readCapture(file, (record) => {
    decodePacket(record, p);
    const fromDevice = toIp(p.src4) === deviceIp;
    if (fromDevice && p.proto === 6 && p.tcpFlags === 0x02) syns.push({ ts: p.ts, dst: toIp(p.dst4), port: p.dstPort });
    else other++;
  });
  return { syns, other };
}

test("network scan: the capture holds SYNs from the device to telnet 23/2323 over many addresses at the claimed rate, and packet analysis flags it", async () => {
  const device = fleet.devices().find((d) => d.profile === "ip-camera") ?? fleet.devices()[0]!;
  const truth = await runScenario({ fleet, signal: new AbortController().signal }, "network-scan", device, 3_000);
  const d = truth.detail as {
    capture: string;
    deviceIp: string;
    probes: number;
    ratePerSecond: number;
    addresses: number;
    baselinePackets: number;
    analysed: boolean;
    alertsFromDevice: number;
  };
  assert.equal(truth.scenario, "network-scan");
  assert.deepEqual(truth.actors, [device.id, `ip:${d.deviceIp}`]);
  const { syns, other } = await census(d.capture, d.deviceIp);
  assert.equal(syns.length, d.probes, "every probe is a SYN from the device");
  assert.ok(other >= d.baselinePackets, "the device's normal traffic comes first");
  const telnet = syns.filter((s) => s.port === 23 || s.port === 2323);
  assert.ok(telnet.length >= syns.length * 0.9, `${telnet.length} of ${syns.length} probes to 23/2323`);
  assert.ok(syns.some((s) => s.port === 2323) && syns.some((s) => s.port === 23));
  assert.ok(new Set(syns.map((s) => s.dst)).size >= syns.length * 0.95, "nearly every probe to a new address");
  // The rate the packets' timestamps show, inside the window the ground truth claims.
  const start = Date.parse(truth.start) / 1000;
  const end = Date.parse(truth.end) / 1000;
  assert.ok(
    syns.every((s) => s.ts >= start - 0.01 && s.ts <= end + 0.01),
    "probes inside the ground truth's window",
  );
  const span = syns.at(-1)!.ts - syns[0]!.ts;
  const rate = syns.length / span;
  assert.ok(rate > 50 && rate < 200, `rate ${rate}/s (claimed ${d.ratePerSecond})`);
  // Vigil's packet analysis raised alerts about the device's address, and the report names the attack detected.
  assert.equal(d.analysed, true);
  assert.ok(d.alertsFromDevice > 0, JSON.stringify(d));
  const anomalies = observer.signals.filter((s) => s.name === "network.anomaly_detected" && s.device === `ip:${d.deviceIp}`);
  assert.ok(anomalies.length > 0);
  assert.notEqual(analyse([truth], observer.signals).attacks[0]!.detectedAfterMs, null);
});

test("network scan capture: a quiet device (rate of 0 probes in the window) yields no SYN and only its normal traffic", async () => {
  const file = join(dir.path, "quiet.pcap");
  const now = Date.now() / 1000;
  const result = await writeScanCapture({
    file,
    random: createRandom(1),
    deviceIp: "10.20.0.9",
    gatewayIp: "10.20.0.1",
    start: now,
    end: now,
    baselineSeconds: 600,
    periodSeconds: 20,
    rate: 100,
  });
  assert.equal(result.probes, 0);
  const { syns, other } = await census(file, "10.20.0.9");
  assert.equal(syns.length, 0);
  assert.equal(other, result.packets);
});
