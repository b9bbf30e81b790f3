// Benchmark `packets`: Vigil's packet anomaly detector against the Kitsune reference
// implementation on the MQTTset captures, plus parse speed, churn and device identification.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AnomalyDetector,
  CaptureReader,
  crossValidate,
  decodePacket,
  ethernetFrame,
  fingerprintCaptures,
  newDecodedPacket,
  readFrames,
  rocFigures,
  splice,
  type Frame,
  type PacketRecord,
  type SplicedStream,
} from "../packages/server/src/network/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const DATA = join(HERE, "..", "..", "shared", "data");
const MQTTSET = join(DATA, "mqttset");
const ATTACKS = [
  ["bruteforce", "bruteforce-train.pcapng"],
  ["flood", "flood-train.pcap"],
  ["malariados", "malariados-train.pcap"],
  ["malformed", "malformed-train.pcap"],
  ["slowite", "slowite-train.pcap"],
] as const;
const TRAIN_SECONDS = 1000;
const ATTACK_DELAY_SECONDS = 200;
const PYTHON = "/usr/bin/python3";
const KITSUNE_REPO = "https://github.com/ymirsky/Kitsune-py.git";

export const title = "packet anomaly detection on MQTTset: Vigil vs the Kitsune reference (ymirsky/Kitsune-py)";

export const about = `Detection quality and speed of \`vigil net\`'s online detector against the Kitsune reference
implementation (pure Python, fetched at bench time into \`~/.cache/vigil/kitsune-py\` or
\`$KITSUNE_DIR\`, run by \`bench/kitsune/run_reference.py\` with Debian's numpy/scipy/scapy and
tshark), on the same input, in the same run.

- **Input, per attack** (MQTTset training splits in \`../shared/data/mqttset\`): the benign capture
  \`benign-5mb-train.pcap\` (31,809 packets, 46 min) with one attack capture spliced in
  ${ATTACK_DELAY_SECONDS} s after the end of the training part (its own timing kept). Every packet of an
  attack capture is attack traffic (each holds only the attacker <-> broker conversation), so
  the labels are: attack packets 1, benign packets 0. **Addresses are remapped** so that nothing
  separates the classes but behaviour: the attack's broker gets the benign broker's address
  (10.16.100.73), the attacker a fresh address in the sensors' subnet (192.168.0.200), and the
  Ethernet frames become Linux cooked frames like the benign ones (loopback type, zero MAC);
  checksums are recomputed.
- **Training**: both detectors learn from the first ${TRAIN_SECONDS} s of benign traffic (11,549 packets:
  10% feature mapping, 90% autoencoders, Kitsune's defaults otherwise: λ = 5, 3, 1, 0.1, 0.01,
  at most 10 features per autoencoder, learning rate 0.1). Figures are computed on every
  packet after training: AUC, equal error rate, TPR at 0.1% FPR.
- **Speed**: \`packets_per_s\` is Vigil's whole pipeline (read, decode, features, training and
  scoring) over all five streams on one core; \`exec_packets_per_s\` the scoring phase alone;
  \`parse_packets_per_s\` reading + decoding only. The reference's rate excludes its tshark
  pre-parse (generous to it) and **is bounded by a time limit per stream** (15 x --duration
  seconds): when it hits the limit, its figures cover only the packets it reached (the
  \`kitsune_*_coverage\` figures say how much). Churn: rate on the brute-force packets vs the
  benign packets of the same stream after training, and Vigil on a synthetic SYN flood from
  200,000 client ports. Memory: \`syn_churn_rss_growth_mib\` is this process's RSS growth during
  that flood (the detector's tables are allocated up front, ~16 MiB at the default capacities);
  \`bench_rss_growth_mib\` the growth over the whole run, which includes the benchmark's own
  copies of the five streams; \`kitsune_max_rss_mib\` the reference's maximum RSS.
- **Identification** (IoT Sentinel captures): two-fold by capture, a device may come out
  \`unknown\`; \`identify_wrong\` counts devices identified as another type.
- The machine's other load is not controlled: rates from a busy machine are lower.`;

export function budgetSeconds(options: { duration: number }): number {
  return 300 + ATTACKS.length * (15 * options.duration + 90);
}

interface OurRun {
  scores: Float64Array;
  seconds: number;
  execSeconds: number;
  execPackets: number;
  attackSeconds: number;
  attackPackets: number;
  benignSeconds: number;
  benignPackets: number;
}

function runOurs(stream: SplicedStream): OurRun {
  const fm = Math.floor(stream.trainPackets / 10);
  const detector = new AnomalyDetector({ fmGrace: fm, adGrace: stream.trainPackets - fm });
  const n = stream.labels.length;
  const scores = new Float64Array(n);
  const p = newDecodedPacket();
  const labels = stream.labels;
  let execStart = 0;
  let attackSeconds = 0;
  let benignSeconds = 0;
  let attackPackets = 0;
  let benignPackets = 0;
  const reader = new CaptureReader((r) => {
    const timed = r.index >= stream.trainPackets;
    const t = timed ? performance.now() : 0;
    if (r.index === stream.trainPackets) execStart = t;
    scores[r.index] = detector.process(decodePacket(r, p));
    if (timed) {
      const dt = performance.now() - t;
      if (labels[r.index]) {
        attackSeconds += dt;
        attackPackets++;
      } else {
        benignSeconds += dt;
        benignPackets++;
      }
    }
  });
  const started = performance.now();
  for (let o = 0; o < stream.pcap.length; o += 65536) reader.push(stream.pcap.subarray(o, o + 65536));
  reader.end();
  const ended = performance.now();
  return {
    scores,
    seconds: (ended - started) / 1000,
    execSeconds: (ended - execStart) / 1000,
    execPackets: n - stream.trainPackets,
    attackSeconds: attackSeconds / 1000,
    attackPackets,
    benignSeconds: benignSeconds / 1000,
    benignPackets,
  };
}

function parseOnly(pcap: Buffer, rounds: number): number {
  const p = newDecodedPacket();
  let packets = 0;
  let sink = 0;
  const started = performance.now();
  for (let k = 0; k < rounds; k++) {
    const reader = new CaptureReader((r) => {
      decodePacket(r, p);
      sink += p.srcPort;
      packets++;
    });
    for (let o = 0; o < pcap.length; o += 65536) reader.push(pcap.subarray(o, o + 65536));
    reader.end();
  }
  if (sink < 0) throw new Error("unreachable");
  return packets / ((performance.now() - started) / 1000);
}

/** A trained detector, then a SYN flood from 200,000 distinct client ports: packets/s and RSS growth during the flood. */
function synChurn(benign: Frame[], trainPackets: number): { perSecond: number; socketEvictions: number; rssGrowth: number } {
  const fm = Math.floor(trainPackets / 10);
  const detector = new AnomalyDetector({ fmGrace: fm, adGrace: trainPackets - fm });
  const p = newDecodedPacket();
  const record: PacketRecord = {
    index: 0,
    fileOffset: 0,
    buf: Buffer.alloc(0),
    offset: 0,
    caplen: 0,
    origLen: 0,
    ts: 0,
    linkType: 113,
    iface: 0,
  };
  for (let i = 0; i < trainPackets; i++) {
    const f = benign[i]!;
    Object.assign(record, { index: i, buf: f.data, caplen: f.data.length, origLen: f.origLen, ts: f.ts });
    detector.process(decodePacket(record, p));
  }
  const frame = ethernetFrame({ src: "192.168.0.200", dst: "10.16.100.73", proto: "tcp", sport: 1, dport: 1883, flags: 0x02 });
  Object.assign(record, { buf: frame, caplen: frame.length, origLen: frame.length, linkType: 1 });
  const t0 = benign[trainPackets - 1]!.ts;
  const total = 200_000;
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    frame.writeUInt16BE(1024 + (i % 64000), 34);
    frame.writeUInt8(200 + ((i / 64000) | 0), 29);
    record.index = trainPackets + i;
    record.ts = t0 + i * 1e-4;
    detector.process(decodePacket(record, p));
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    perSecond: total / seconds,
    socketEvictions: detector.features.tableStats().sockets!.evictions,
    rssGrowth: process.memoryUsage().rss - rssBefore,
  };
}

/** The reference's code: $KITSUNE_DIR, the cache, or a fresh clone into the cache. */
function kitsuneDir(progress: BenchOptions["progress"]): string | undefined {
  const dir = process.env.KITSUNE_DIR ?? join(homedir(), ".cache", "vigil", "kitsune-py");
  if (existsSync(join(dir, "Kitsune.py"))) return dir;
  progress.note(`fetching the Kitsune reference (${KITSUNE_REPO}) into ${dir}`);
  const clone = spawnSync("git", ["clone", "--depth", "1", KITSUNE_REPO, dir], { encoding: "utf8" });
  if (clone.status === 0 && existsSync(join(dir, "Kitsune.py"))) return dir;
  progress.note(
    `could not fetch the Kitsune reference (${(clone.stderr || clone.error?.message || "").trim().split("\n").pop()}); measuring Vigil alone. Put a copy of ${KITSUNE_REPO} in ${dir} or set KITSUNE_DIR.`,
  );
  return undefined;
}

function pythonReady(progress: BenchOptions["progress"]): boolean {
  const check = spawnSync(PYTHON, ["-c", "import numpy, scipy, scapy"], { encoding: "utf8" });
  const tshark = spawnSync("tshark", ["--version"], { encoding: "utf8" });
  if (check.status === 0 && tshark.status === 0) return true;
  progress.note(
    `the reference needs ${PYTHON} with numpy, scipy and scapy, and tshark: apt-get install -y python3-numpy python3-scipy python3-scapy tshark (${(check.stderr || "tshark missing").trim().split("\n").pop()})`,
  );
  return false;
}

interface RefRun {
  scores: Float64Array;
  times: Float64Array;
  packets: number;
  seconds: number;
  stopped: string;
  maxRssKiB: number;
}

async function runReference(
  dir: string,
  capture: string,
  fm: number,
  ad: number,
  limit: number,
  signal: AbortSignal,
): Promise<RefRun> {
  const out = `${capture}.kitsune`;
  const script = join(HERE, "kitsune", "run_reference.py");
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(PYTHON, [script, dir, capture, String(fm), String(ad), "100000000", String(limit), out], {
      cwd: dirname(capture),
    });
    let text = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (text += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const onAbort = () => child.kill("SIGTERM");
    signal.addEventListener("abort", onAbort, { once: true });
    child.on("error", reject);
    child.on("close", (code) => {
      signal.removeEventListener("abort", onAbort);
      if (code === 0) resolve(text);
      else reject(new Error(`the reference exited with ${code}: ${err.trim().split("\n").slice(-3).join(" | ")}`));
    });
  });
  const summary = JSON.parse(stdout.trim().split("\n").pop()!) as {
    packets: number;
    seconds: number;
    stopped: string;
    max_rss_kib: number;
  };
  const asF64 = (b: Buffer) => new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  return {
    scores: asF64(await readFile(`${out}.scores`)),
    times: asF64(await readFile(`${out}.times`)),
    packets: summary.packets,
    seconds: summary.seconds,
    stopped: summary.stopped,
    maxRssKiB: summary.max_rss_kib,
  };
}

const r4 = (v: number) => Number(v.toFixed(4));

export async function run({ duration, progress, signal }: BenchOptions): Promise<BenchOutput> {
  if (!existsSync(MQTTSET)) throw new Error(`the MQTTset captures are not in ${MQTTSET} (see ../shared/data/README.md)`);
  const figures: Record<string, number> = {};
  const ratios: Record<string, number> = {};
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-packets-"));
  try {
    const rssStart = process.memoryUsage().rss;
    let rssMax = rssStart;
    const benign = (await readFrames(join(MQTTSET, "benign-5mb-train.pcap"))).frames;
    const streams = new Map<string, SplicedStream>();
    for (const [name, file] of ATTACKS) {
      const stream = splice(benign, await readFrames(join(MQTTSET, file)), TRAIN_SECONDS, ATTACK_DELAY_SECONDS);
      streams.set(name, stream);
      await writeFile(join(tmp, `${name}.pcap`), stream.pcap);
    }
    const trainPackets = streams.get("bruteforce")!.trainPackets;
    progress.note(
      `${ATTACKS.length} streams: ${trainPackets} training packets each; attacks spliced ${ATTACK_DELAY_SECONDS} s after training`,
    );

    // Ours.
    let packets = 0;
    let seconds = 0;
    let execPackets = 0;
    let execSeconds = 0;
    const ours = new Map<string, OurRun>();
    const aucs: number[] = [];
    for (const [name] of ATTACKS) {
      signal.throwIfAborted();
      const stream = streams.get(name)!;
      const result = await progress.phase(`vigil on ${name}`, async () => runOurs(stream), {
        summary: (r) => `${Math.round(stream.labels.length / r.seconds)} packets/s`,
      });
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      ours.set(name, result);
      packets += stream.labels.length;
      seconds += result.seconds;
      execPackets += result.execPackets;
      execSeconds += result.execSeconds;
      const roc = rocFigures(result.scores, stream.labels, stream.trainPackets);
      figures[`${name}_auc`] = r4(roc.auc);
      figures[`${name}_eer`] = r4(roc.eer);
      figures[`${name}_tpr_at_0.1pct_fpr`] = r4(roc.tprAt01PctFpr);
      figures[`${name}_attack_packets`] = roc.positives;
      aucs.push(roc.auc);
    }
    figures.min_auc = r4(Math.min(...aucs));
    figures.packets_per_s = Math.round(packets / seconds);
    figures.exec_packets_per_s = Math.round(execPackets / execSeconds);
    const brute = ours.get("bruteforce")!;
    figures.bruteforce_attack_packets_per_s = Math.round(brute.attackPackets / brute.attackSeconds);
    figures.bruteforce_benign_packets_per_s = Math.round(brute.benignPackets / brute.benignSeconds);
    figures.parse_packets_per_s = Math.round(
      await progress.phase(
        "parse + decode only (the brute-force stream, 100 rounds)",
        async () => parseOnly(streams.get("bruteforce")!.pcap, 100),
        {
          summary: (r) => `${Math.round(r)} packets/s`,
        },
      ),
    );
    const churn = await progress.phase(
      "SYN flood from 200,000 client ports after training",
      async () => synChurn(benign, trainPackets),
      {
        summary: (r) => `${Math.round(r.perSecond)} packets/s, ${r.socketEvictions} socket streams evicted`,
      },
    );
    figures.syn_churn_packets_per_s = Math.round(churn.perSecond);
    figures.syn_churn_rss_growth_mib = Math.round((churn.rssGrowth / 2 ** 20) * 10) / 10;
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    // Includes the five spliced streams and their score arrays held by the benchmark itself.
    figures.bench_rss_growth_mib = Math.round(((rssMax - rssStart) / 2 ** 20) * 10) / 10;

    // Identification (IoT Sentinel).
    const sentinel = join(DATA, "iot-sentinel");
    if (existsSync(sentinel)) {
      const cv = crossValidate(await fingerprintCaptures(sentinel));
      figures.identify_correct = cv.correct;
      figures.identify_unknown = cv.results.filter((r) => r.identified.type === "unknown").length;
      figures.identify_wrong = cv.results.filter((r) => r.identified.type !== r.type && r.identified.type !== "unknown").length;
      figures.identify_total = cv.total;
    }

    // The reference.
    const dir = pythonReady(progress) ? kitsuneDir(progress) : undefined;
    if (dir !== undefined) {
      const limit = 15 * duration;
      const refAucs: number[] = [];
      let refPackets = 0;
      let refSeconds = 0;
      let refRss = 0;
      for (const [name] of ATTACKS) {
        signal.throwIfAborted();
        const stream = streams.get(name)!;
        const fm = Math.floor(stream.trainPackets / 10);
        const ref = await progress.phase(
          `kitsune reference on ${name} (limit ${limit} s)`,
          () => runReference(dir, join(tmp, `${name}.pcap`), fm, stream.trainPackets - fm, limit, signal),
          { expectSeconds: limit, summary: (r) => `${r.packets} packets in ${r.seconds.toFixed(1)} s (${r.stopped})` },
        );
        refPackets += ref.packets;
        refSeconds += ref.seconds;
        refRss = Math.max(refRss, ref.maxRssKiB);
        const reached = ref.packets;
        const roc = rocFigures(ref.scores, stream.labels, stream.trainPackets, reached);
        // Ours on exactly the same packets, for a like-for-like ratio.
        const same = rocFigures(ours.get(name)!.scores, stream.labels, stream.trainPackets, reached);
        figures[`kitsune_${name}_auc`] = r4(roc.auc);
        figures[`kitsune_${name}_eer`] = r4(roc.eer);
        figures[`kitsune_${name}_tpr_at_0.1pct_fpr`] = r4(roc.tprAt01PctFpr);
        figures[`kitsune_${name}_coverage`] = r4(reached / stream.labels.length);
        if (Number.isFinite(roc.auc) && Number.isFinite(same.auc)) {
          ratios[`${name}_auc_ratio`] = r4(same.auc / roc.auc);
          refAucs.push(roc.auc);
        }
        if (name === "bruteforce") {
          // Rates on the attack packets vs the benign ones after training, from cumulative times.
          let aT = 0;
          let aN = 0;
          let bT = 0;
          let bN = 0;
          for (let i = stream.trainPackets; i < reached; i++) {
            const dt = ref.times[i]! - ref.times[i - 1]!;
            if (stream.labels[i]) {
              aT += dt;
              aN++;
            } else {
              bT += dt;
              bN++;
            }
          }
          if (aN > 0) figures.kitsune_bruteforce_attack_packets_per_s = Math.round(aN / aT);
          if (bN > 0) figures.kitsune_bruteforce_benign_packets_per_s = Math.round(bN / bT);
        }
      }
      figures.kitsune_min_auc = r4(Math.min(...refAucs));
      figures.kitsune_packets_per_s = Math.round(refPackets / refSeconds);
      figures.kitsune_max_rss_mib = Math.round(refRss / 1024);
      ratios.min_auc_ratio = r4(figures.min_auc / figures.kitsune_min_auc);
      ratios.packets_per_s_ratio = r4(figures.packets_per_s / figures.kitsune_packets_per_s);
      if (figures.kitsune_bruteforce_attack_packets_per_s) {
        ratios.bruteforce_packets_per_s_ratio = r4(
          figures.bruteforce_attack_packets_per_s / figures.kitsune_bruteforce_attack_packets_per_s,
        );
      }
    }
    await mkdir(tmp, { recursive: true });
    return { figures, ratios };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
