// Packet analysis on the real captures in ../shared/data (MQTTset, IoT Sentinel): reader,
// identification, detection quality and bounded state, and the `vigil net` commands.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import {
  AnomalyDetector,
  CaptureReader,
  crossValidate,
  decodePacket,
  ethernetFrame,
  fingerprintCaptures,
  newDecodedPacket,
  readCapture,
  readFrames,
  rocFigures,
  splice,
  type PacketRecord,
} from "../src/network/index.js";
import { cliMain, repoRoot, tempDir } from "./support.js";

const data = join(repoRoot, "..", "shared", "data");
const mqttset = join(data, "mqttset");
const sentinel = join(data, "iot-sentinel");

/** Skips (or, in CI, fails) when the shared captures are not there. */
function needData(t: TestContext): boolean {
  if (existsSync(mqttset) && existsSync(sentinel)) return true;
  const reason = `the shared captures are absent (${data}); see ../shared/data/README.md`;
  if (process.env.CI === "true") assert.fail(`CI must have the data: ${reason}`);
  t.skip(reason);
  return false;
}

test("the reader reads every real capture whole: packet counts and link types as capinfos reports them", async (t) => {
  if (!needData(t)) return;
  const expected: [string, number, string, number[]][] = [
    ["mqttset/benign-train.pcap", 6375, "pcapng", [113]],
    ["mqttset/bruteforce-train.pcapng", 8918, "pcapng", [1]],
    ["mqttset/flood-train.pcap", 58, "pcap", [113]],
    ["mqttset/malariados-train.pcap", 1866, "pcapng", [1]],
    ["mqttset/malformed-train.pcap", 7315, "pcapng", [1]],
    ["mqttset/slowite-train.pcap", 6447, "pcapng", [1]],
    ["iot-sentinel/HueBridge/Setup-A-1-STA.pcap", 1513, "pcap", [1]],
    ["iot-sentinel/D-LinkCam/Setup-A-1-STA.pcap", 624, "pcap", [1]],
  ];
  for (const [file, packets, format, linkTypes] of expected) {
    let decoded = 0;
    const p = newDecodedPacket();
    const s = await readCapture(join(data, file), (r) => {
      decodePacket(r, p);
      if (p.ipVersion !== 0 || p.arpOp !== 0) decoded++;
    });
    assert.deepEqual([s.packets, s.format, s.linkTypes], [packets, format, linkTypes], file);
    assert.ok(decoded > packets * 0.9, `${file}: most packets decode to IP or ARP`);
  }
  // The Hue capture: TCP, UDP, IPv6 and ARP counts as tshark counts them (UDP outside ICMP errors).
  const counts = { tcp: 0, udp: 0, ipv6: 0, arp: 0 };
  const p = newDecodedPacket();
  await readCapture(join(sentinel, "HueBridge/Setup-A-1-STA.pcap"), (r) => {
    decodePacket(r, p);
    if (p.proto === 6) counts.tcp++;
    if (p.proto === 17) counts.udp++;
    if (p.ipVersion === 6) counts.ipv6++;
    if (p.arpOp !== 0) counts.arp++;
  });
  assert.deepEqual(counts, { tcp: 1244, udp: 228, ipv6: 28, arp: 14 });
});

test("device-type identification: every capture tested by a model that never saw it; no wrong type", async (t) => {
  if (!needData(t)) return;
  const cv = crossValidate(await fingerprintCaptures(sentinel));
  const wrong = cv.results.filter((r) => r.identified.type !== r.type && r.identified.type !== "unknown");
  assert.equal(cv.total, 14);
  assert.deepEqual(wrong, [], "a device may come out unknown, never as another type");
  assert.ok(cv.correct >= 12, `identified ${cv.correct}/14`);
});

test("detection on MQTTset: brute force spliced into benign traffic (addresses remapped) separates, with bounded state", async (t) => {
  if (!needData(t)) return;
  const benign = (await readFrames(join(mqttset, "benign-train.pcap"))).frames;
  const stream = splice(benign, await readFrames(join(mqttset, "bruteforce-train.pcapng")), 300, 30);
  const detector = new AnomalyDetector({
    fmGrace: Math.floor(stream.trainPackets / 10),
    adGrace: stream.trainPackets - Math.floor(stream.trainPackets / 10),
  });
  const scores = new Float64Array(stream.labels.length);
  const p = newDecodedPacket();
  const reader = new CaptureReader((r) => (scores[r.index] = detector.process(decodePacket(r, p))));
  reader.push(stream.pcap);
  reader.end();
  const roc = rocFigures(scores, stream.labels, stream.trainPackets);
  assert.ok(roc.positives > 8000 && roc.negatives > 1000, JSON.stringify(roc));
  assert.ok(roc.auc > 0.95, `AUC ${roc.auc}`);
  assert.ok(detector.alerts.length > 0, "the brute force raised alerts");
  assert.ok(detector.alerts.some((a) => a.dst.startsWith("10.16.100.73:1883") || a.src.startsWith("10.16.100.73:1883")));
  for (const a of detector.alerts) assert.equal(a.deviations.length, 3, "each alert says which statistics deviated");
});

test("connection churn: a SYN flood from 200,000 client ports leaves every table within its capacity", () => {
  const capacities = { macIp: 64, hosts: 64, hostPairs: 256, jitter: 256, sockets: 1024, socketPairs: 1024 };
  const detector = new AnomalyDetector({ fmGrace: 100, adGrace: 900, capacities });
  const p = newDecodedPacket();
  const frame = ethernetFrame({ src: "192.168.1.90", dst: "192.168.1.91", proto: "tcp", sport: 1, dport: 1883, flags: 0x02 });
  const record: PacketRecord = {
    index: 0,
    fileOffset: 0,
    buf: frame,
    offset: 0,
    caplen: frame.length,
    origLen: frame.length,
    ts: 0,
    linkType: 1,
    iface: 0,
  };
  for (let i = 0; i < 200_000; i++) {
    frame.writeUInt16BE(1024 + (i % 60000), 34); // TCP source port
    frame.writeUInt8(1 + ((i / 60000) | 0), 29); // and, after 60k ports, the last byte of the source IP
    record.index = i;
    record.ts = 1000 + i * 1e-4;
    const score = detector.process(decodePacket(record, p));
    assert.ok(Number.isFinite(score));
  }
  const tables = detector.features.tableStats();
  for (const [name, s] of Object.entries(tables)) assert.ok(s.size <= s.capacity, `${name}: ${s.size} > ${s.capacity}`);
  assert.ok(tables.sockets!.evictions > 190_000, `sockets evicted: ${tables.sockets!.evictions}`);
  assert.equal(tables.sockets!.size, 1024);
});

function runCli(args: string[], stdin?: Buffer): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=vigil-source", "--import", "tsx", cliMain, ...args], {
      cwd: repoRoot,
      env: { ...process.env, NODE_NO_WARNINGS: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? Buffer.alloc(0));
  });
}

test("vigil net analyze / identify / watch on real captures, and on bad input", async (t) => {
  if (!needData(t)) return;
  const work = tempDir("vigil-net-");
  try {
    const report = join(work.path, "report");
    const scores = join(work.path, "scores.csv");
    const ok = await runCli([
      "--json",
      "net",
      "analyze",
      join(mqttset, "malformed-train.pcap"),
      "--train",
      "3000",
      "--report",
      report,
      "--scores",
      scores,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const summary = JSON.parse(ok.stdout) as { packets: number; trained: boolean; alerts: number };
    assert.equal(summary.packets, 7315);
    assert.equal(summary.trained, true);
    const json = JSON.parse(readFileSync(join(report, "report.json"), "utf8")) as {
      packets: number;
      hosts: unknown[];
      alerts: unknown[];
    };
    assert.equal(json.packets, 7315);
    assert.equal(json.hosts.length, 2);
    const html = readFileSync(join(report, "report.html"), "utf8");
    assert.match(html, /<svg[^>]*aria-label="anomaly score over time"/);
    assert.doesNotMatch(html, /<script/);
    const lines = readFileSync(scores, "utf8").trim().split("\n");
    assert.equal(lines[0], "index,timestamp,score");
    assert.equal(lines.length, 7316);
    assert.match(lines[7315]!, /^7314,\d+\.\d{6},[\d.e-]+$/);

    // A capture cut mid-packet: the error names the offset, and the report keeps what was read.
    const whole = readFileSync(join(mqttset, "flood-train.pcap"));
    const cut = join(work.path, "cut.pcap");
    writeFileSync(cut, whole.subarray(0, whole.length - 1000));
    const bad = await runCli(["net", "analyze", cut, "--train", "10", "--report", join(work.path, "cut-report")]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^vigil: CAPTURE_TRUNCATED: at byte \d+: /m);
    const partial = JSON.parse(readFileSync(join(work.path, "cut-report", "report.json"), "utf8")) as {
      packets: number;
      error: { code: string };
    };
    assert.equal(partial.error.code, "CAPTURE_TRUNCATED");
    assert.ok(partial.packets > 40 && partial.packets < 58, String(partial.packets));

    const id = await runCli(["--json", "net", "identify", join(sentinel, "WeMoSwitch/Setup-C-1-STA.pcap")]);
    assert.equal(id.code, 0, id.stderr);
    const hosts = JSON.parse(id.stdout) as { mac: string; type: string }[];
    assert.equal(hosts.find((h) => h.mac === "94:10:3e:35:01:c1")?.type, "WeMoSwitch");

    const garbage = await runCli(["net", "watch", "-"], Buffer.from("this is not a capture\n"));
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /CAPTURE_BAD_MAGIC: at byte 0: /);

    const live = await runCli(
      ["--json", "net", "watch", "-", "--train", "1000"],
      readFileSync(join(sentinel, "HueBridge/Setup-A-1-STA.pcap")),
    );
    assert.equal(live.code, 0, live.stderr);
    const signals = live.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { signal: string; mac?: string });
    assert.ok(signals.some((s) => s.signal === "asset.discovered" && s.mac === "00:17:88:24:76:ff"));
  } finally {
    work.remove();
  }
});
