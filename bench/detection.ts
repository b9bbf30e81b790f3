// Benchmark `detection`: the streaming detector (packages/server/src/detection/) against
// (1) every simulator scenario on a real in-process Vigil with a benign fleet, (2) a synthetic
// stream for raw throughput and state per device, (3) the MQTTset captures (real traffic)
// replayed through the same feature pipeline.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { setMaxListeners } from "node:events";
import { existsSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import type { DeviceCredentials } from "../packages/device-sdk/src/index.js";
import { Gateway } from "../packages/server/src/gateway/index.js";
import { runFleetTrial } from "./lib/detection-fleet.js";
import { BENCH_PROFILE, driveGateway, enrollLoadDevices } from "./lib/gateway-load.js";
import { startBenchVigil } from "./lib/vigil.js";
import { runInNewContext } from "node:vm";
import { Platform, loadConfig } from "../packages/server/src/app/index.js";
import { createRootLogger, moduleLogger } from "../packages/server/src/core/index.js";
import {
  DETECTION_DEFAULTS,
  Detector,
  DeviceState,
  FEATURE_COUNT,
  PeerGroup,
  rulesFor,
  type DetectionConfig,
  type Finding,
} from "../packages/server/src/detection/index.js";
import { CaptureReader, decodePacket, newDecodedPacket } from "../packages/server/src/network/index.js";
import {
  DRIFT_MIN_READINGS,
  Fleet,
  mixes,
  platformTarget,
  runTimeline,
  scenarios,
  gatewayScenarioNames,
  type GroundTruth,
  type GatewayScenarioName,
  type TimelineEntry,
} from "../packages/server/src/simulator/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";
import type { Progress } from "./lib/progress.js";

export const title = "detection: simulator scenarios (TPR / FPR / time to detect and block), detector throughput, MQTTset replay";

const PER_SCENARIO = envInt("VIGIL_BENCH_DETECTION_ATTACKS", 100, 1, 200);
/** Every attack on a device of its own (8 of the 9 scenarios make their device an actor), plus ~600 benign devices. */
const DEVICES = envInt("VIGIL_BENCH_DETECTION_DEVICES", 8 * PER_SCENARIO + 600, 14, 3000);
/** Attack starts are spread evenly over this window, scenarios interleaved (~60 attacks under way at any time). */
const SPREAD_MS = 1000 * envInt("VIGIL_BENCH_DETECTION_SPREAD_S", 600, 0, 3600);
const ROUNDS = envInt("VIGIL_BENCH_DETECTION_ROUNDS", 1, 1, 50);
const FLEET_BENIGN = envInt("VIGIL_BENCH_DETECTION_FLEET_BENIGN", 602, 7, 5000);
const FLEET_DRIFTING = envInt("VIGIL_BENCH_DETECTION_FLEET_DRIFTING", 100, 1, 1000);
const GATEWAY_DEVICES = 50;
/** The fleet trial's drift ramp at least (the scenario's 2 x the default 20 s duration). */
const FLEET_RAMP_MS = 40_000;
const BASELINE_MS = 90_000;
const STAGGER_MS = 1_500;
const TAIL_MS = 5_000;
const THROUGHPUT_DEVICES = 10_000;
const THROUGHPUT_EVENTS = 2_000_000;
const MQTTSET_DIR =
  process.env.VIGIL_MQTTSET_DIR ?? join(dirname(fileURLToPath(import.meta.url)), "..", "..", "shared", "data", "mqttset");

/** The detector rule that is the right answer to each scenario (token replay: the enrollment signal, no rule). */
const RIGHT_RULE: Record<GatewayScenarioName, string> = {
  "brute-force": "brute_force",
  recon: "topic_reconnaissance",
  flood: "flood",
  "exfil-slow": "exfiltration",
  "exfil-burst": "exfiltration",
  "cloned-identity": "identity_cloned",
  "lateral-movement": "lateral_movement",
  "behaviour-drift": "behaviour_anomaly",
  "token-replay": "enrollment.token_replayed",
};

export const about = `Five parts, one run (\`--duration 20\`: about 20 minutes on this machine).

**1. Simulator scenarios** (\`<scenario>_tpr\`, \`<scenario>_fpr\`, \`<scenario>_detect_ms\`, \`min_tpr\`, \`max_fpr\`,
\`detect_to_block_p99_ms\`). A real in-process Vigil (fresh data dir, default \`detection\` config) and a simulator
fleet of ${DEVICES} devices (\`--mix mixed\`, seed 7; \`VIGIL_BENCH_DETECTION_DEVICES\`, default 8 x attacks per scenario + 600;
\`VIGIL_BENCH_DETECTION_ROUNDS\` repeats the part with seeds 8, 9, ... and sums the counts) that really enroll and connect
over mutual TLS. After a quiet baseline of ${BASELINE_MS / 1000} s (peer baselines warm up; the payload drift test needs 24
readings of each field), every scenario runs on ${PER_SCENARIO} devices (\`VIGIL_BENCH_DETECTION_ATTACKS\`), each attack on a
device of its own (the scenario's preferred profiles first; scenarios indifferent to the device pick last); the ${9 * PER_SCENARIO} attack starts are spread evenly over
${SPREAD_MS / 1000} s (\`VIGIL_BENCH_DETECTION_SPREAD_S\`), the scenarios interleaved, so about
${Math.round((9 * PER_SCENARIO * 40_000) / Math.max(1, SPREAD_MS + 40_000))} attacks are under way at any time and floods
do not pile up. Each attack lasts 2 x \`--duration\` seconds (default 20 s); a behaviour drift lasts at least
${DRIFT_MIN_READINGS} of its device's reporting periods (the scenario's rule, stated in its ground truth).
- **TPR** of a scenario: attacks (one per attacked device) with a finding of the right rule on one of the attack's
  actors (ground truth \`actors\`; for brute force also \`source:<host>\`), raised from its start to ${TAIL_MS / 1000} s after
  its end. Right rules: ${Object.entries(RIGHT_RULE)
    .map(([s, r]) => `${s} -> \`${r}\``)
    .join(", ")} (token replay has no detector rule: the \`enrollment.token_replayed\` signal counts).
- **FPR** of a scenario: benign devices (never an actor of any attack) with a finding of that scenario's rule at any
  time in the run, over all benign devices (\`any_rule_fpr\`: with a finding of any rule).
- **time to detect** (\`_detect_ms\`): median over detected attacks of attack start -> the finding.
- **time to block**: the finding's \`detectToBlockMs\` (the offending message's or signal's arrival at the detector to
  the enforcement call returning), over every finding that took an action; \`detect_to_block_p99_ms\` is its p99.
Goals (issue 7): TPR >= 0.99 at FPR <= 1 % per scenario; detect-to-block p99 <= 10 ms.

**2b. Fleet-scale drift trial** (\`drift_fleet_*\`): \`bench/lib/detection-fleet.ts\` runs the simulator's own
behaviours (the code virtual devices run) on simulated time through one \`Detector\`: ${FLEET_BENIGN} benign devices of all
seven profiles (10 % join late and are judged by their peers; reboots and blips at the simulator's rates, 0.0005 per
tick each; a 10-minute simulated day) and ${FLEET_DRIFTING} drifting devices for each profile the drift scenario prefers,
drift starts spread over 10 minutes after a 10-minute baseline, ramp 0 -> 1 over 40 s and at least ${DRIFT_MIN_READINGS} reporting
periods, as in part 1 (\`drift_fleet_<profile>_ramp_s\`: an environmental sensor reporting every 20 s drifts over 800 s). TPR: a
\`behaviour_anomaly\` finding from the drift's start to 5 s after its ramp; FPR: benign devices with any
\`behaviour_anomaly\` finding at any time.

**2c. Gateway with detection on vs off** (\`gateway_msgs_per_s_detection_on\` / \`_off\`, \`gateway_detection_on_vs_off\`):
two \`Gateway\`s on one platform, alike but for the inline observer (the platform's detector, or none); ${GATEWAY_DEVICES}
publishers and one subscriber over mutual TLS (\`bench/detection-gateway-worker.mjs\`, closed loop of 10 per publisher,
JSON telemetry of 120 B so the payload scanner does its work), QoS 0, \`--duration\` seconds each, alternated off / on /
off / on; figures are the means.

**2. Detector alone** (\`detector_events_per_s\`, \`state_bytes_per_device\`): one \`Detector\` (default config, no
enforcer), ${THROUGHPUT_DEVICES} devices of 4 profiles, ${THROUGHPUT_EVENTS / 1e6} M synthetic publishes (round robin, JSON bodies of 40-400 B with
3-12 numeric fields, 3 topics per device, simulated clock advancing 1 ms per 100 events so windows close and the model batch runs);
events per CPU-second of this thread, model batches included. State: heap growth over ${THROUGHPUT_DEVICES} new devices
after a forced GC.

**3. MQTTset replay** (\`mqttset_<attack>_auc\`, \`mqttset_<attack>_tpr_at_1pct_fpr\`, \`mqttset_<attack>_rule_clients\`):
the reduced MQTTset training captures (\`../shared/data/mqttset\`, not vendored) are decoded with Vigil's capture reader
and packet decoder; a small MQTT stream parser per TCP direction rebuilds per-client events: CONNECT (client id = the
device; one session), CONNACK with a refusal code (an authentication failure), PUBLISH from the client (topic, size on
the wire), DISCONNECT / FIN / RST (session end). **Addresses and MACs are ignored** (every client's \`remote\` is the
same string), so the different subnets of benign and attack captures cannot be used. Scores: the **anomaly model's
window score** — each client's events fill a \`DeviceState\` feature window (10 s, the detector's 8 features), closed
on the 10 s grid, on session end (rated over the full 10 s) and at the capture's end; each window is scored against
the peer baseline (\`RobustBaseline\`, the one a new device is judged by) learnt from the **first half (by time) of
benign-5mb**; negatives are the windows of the **second half of benign-5mb**, positives the windows of every client of
an attack capture (the README: attack captures hold only attacker <-> broker traffic). AUC (ties half) and TPR at FPR
<= 1 % over windows. Separately, the real \`Detector\` (rules + model, default config) replays each capture and
\`_rule_clients\` is the share of the capture's clients with any finding (for benign: the false-alarm share).`;

export function budgetSeconds(options: { duration: number }): number {
  // Generous: on a loaded 2-core machine enrollment and the attack phase run up to twice as long.
  return Math.round((1200 + 12 * options.duration + (2 * (BASELINE_MS + SPREAD_MS)) / 1000 + DEVICES / 4) * ROUNDS);
}

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new Error(`${name} must be ${min}..${max}, not ${JSON.stringify(raw)}`);
  return n;
}

const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export async function run({ duration, progress, signal }: BenchOptions): Promise<BenchOutput> {
  // Every attack listens on the abort signal while it waits for its start (900 by default).
  setMaxListeners(9 * PER_SCENARIO + 64, signal);
  const figures: Record<string, number> = {};
  const ratios: Record<string, number> = {};
  const sim = await scenarioPart(duration, progress, signal);
  Object.assign(figures, sim);
  signal.throwIfAborted();
  Object.assign(
    figures,
    await progress.phase(
      `fleet-scale drift trial: ${FLEET_BENIGN} benign + ${4 * FLEET_DRIFTING} drifting devices, simulated time`,
      async () => fleetPart(Math.max(FLEET_RAMP_MS, 2 * duration * 1000)),
      { expectSeconds: 60 },
    ),
  );
  signal.throwIfAborted();
  Object.assign(figures, await gatewayPart(duration, progress, signal));
  ratios.gateway_detection_on_vs_off = figures.gateway_detection_on_vs_off ?? 0;
  signal.throwIfAborted();
  Object.assign(
    figures,
    await progress.phase("detector alone: synthetic stream, state per device", async () => throughputPart()),
  );
  signal.throwIfAborted();
  if (existsSync(MQTTSET_DIR)) {
    Object.assign(figures, await progress.phase("MQTTset replay through the feature pipeline", () => mqttsetPart()));
  } else {
    progress.note(`MQTTset captures not found at ${MQTTSET_DIR}: replay skipped`);
  }
  ratios.tpr_goal_ratio = round((figures.min_tpr ?? 0) / 0.99);
  ratios.detect_to_block_goal_ratio = round(10 / Math.max(0.001, figures.detect_to_block_p99_ms ?? 0));
  return { figures, ratios };
}

// --- 1. simulator scenarios ---------------------------------------------------------------

interface RoundResult {
  readonly fleet: number;
  readonly benign: number;
  readonly anyFalse: number;
  readonly attacks: number;
  readonly errors: number;
  readonly runS: number;
  /** 1-minute load average when the attacks were over. */
  readonly loadEnd: number;
  readonly findings: number;
  readonly blocks: number[];
  readonly per: Record<string, { attempts: number; hits: number; delays: number[]; falseDevices: number }>;
}

export async function scenarioPart(duration: number, progress: Progress, signal: AbortSignal): Promise<Record<string, number>> {
  const rounds: RoundResult[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    signal.throwIfAborted();
    rounds.push(await scenarioRound(7 + r, r, duration, progress, signal));
  }
  const names = gatewayScenarioNames;
  const sum = (f: (x: RoundResult) => number) => rounds.reduce((a, x) => a + f(x), 0);
  const benign = sum((x) => x.benign);
  const out: Record<string, number> = {
    rounds: ROUNDS,
    fleet_devices: sum((x) => x.fleet),
    benign_devices: benign,
    attacks: sum((x) => x.attacks),
    attack_errors: sum((x) => x.errors),
    run_s: round(
      sum((x) => x.runS),
      1,
    ),
    findings: sum((x) => x.findings),
    load_avg_1m_end: round(Math.max(...rounds.map((x) => x.loadEnd)), 2),
  };
  const tprs: number[] = [];
  const fprs: number[] = [];
  for (const name of names) {
    const attempts = sum((x) => x.per[name]?.attempts ?? 0);
    const hits = sum((x) => x.per[name]?.hits ?? 0);
    const falseDevices = sum((x) => x.per[name]?.falseDevices ?? 0);
    const delays = rounds.flatMap((x) => x.per[name]?.delays ?? []).sort((a, b) => a - b);
    const tpr = attempts === 0 ? 0 : hits / attempts; // a failed attack (no ground truth) counts as missed
    const fpr = benign === 0 ? 0 : falseDevices / benign;
    out[`${name}_attacks`] = attempts;
    out[`${name}_detected`] = hits;
    out[`${name}_tpr`] = round(tpr);
    out[`${name}_fp_devices`] = falseDevices;
    out[`${name}_fpr`] = round(fpr, 4);
    out[`${name}_detect_ms`] = delays.length === 0 ? -1 : Math.round(percentile(delays, 50));
    tprs.push(tpr);
    fprs.push(fpr);
  }
  const blocks = rounds.flatMap((x) => x.blocks).sort((a, b) => a - b);
  out.min_tpr = round(Math.min(...tprs));
  out.max_fpr = round(Math.max(...fprs), 4);
  out.any_rule_fpr = round(benign === 0 ? 0 : sum((x) => x.anyFalse) / benign, 4);
  out.blocking_findings = blocks.length;
  out.detect_to_block_p50_ms = round(percentile(blocks, 50));
  out.detect_to_block_p99_ms = round(percentile(blocks, 99));
  out.detect_to_block_max_ms = round(blocks[blocks.length - 1] ?? 0);
  progress.note(
    `scenarios: min_tpr ${out.min_tpr}, max_fpr ${out.max_fpr}, detect_to_block_p99_ms ${out.detect_to_block_p99_ms}; ${names
      .map((n) => `${n} ${out[`${n}_detected`]}/${out[`${n}_attacks`]} fp ${out[`${n}_fp_devices`]}/${benign}`)
      .join(", ")}`,
  );
  return out;
}

async function scenarioRound(
  seed: number,
  index: number,
  duration: number,
  progress: Progress,
  signal: AbortSignal,
): Promise<RoundResult> {
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-detection-"));
  let platform: Platform | undefined;
  let fleet: Fleet | undefined;
  let gathering: NodeJS.Timeout | undefined;
  const tag = ROUNDS > 1 ? `round ${index + 1}/${ROUNDS}: ` : "";
  try {
    platform = await progress.phase(`${tag}start Vigil (fresh data dir, default detection config)`, async () => {
      const config = await loadConfig({
        env: {},
        cwd: tmp,
        flags: { "data-dir": join(tmp, "data"), "http-port": "0", "log-level": "error" },
      });
      const p = new Platform({ config, log: createRootLogger({ level: "error" }), processMetrics: false });
      await p.start();
      return p;
    });
    const p = platform;
    const replays: { device: string | null; at: number }[] = [];
    const off = p.bus.on("enrollment.token_replayed", (e) => replays.push({ device: e.device, at: Date.now() }));
    const f = new Fleet({ target: platformTarget(p, "bench"), workDir: join(tmp, "fleet"), seed, concurrency: 8 });
    fleet = f;
    await progress.phase(`${tag}enroll and connect ${DEVICES} simulated devices (mix: mixed)`, () => f.start(DEVICES, "mixed"), {
      expectSeconds: Math.ceil(DEVICES / 20),
    });
    const attackMs = 2 * duration * 1000;
    const names = gatewayScenarioNames;
    const entries: TimelineEntry[] = [];
    // Slot k * 9 + i: attack k of scenario i; slots evenly over the spread (no scenario's attacks bunch up).
    const slots = names.length * PER_SCENARIO;
    for (let k = 0; k < PER_SCENARIO; k++)
      names.forEach((scenario, i) => {
        const slot = k * names.length + i;
        const atMs = BASELINE_MS + (SPREAD_MS === 0 || slots < 2 ? i * STAGGER_MS : Math.round((slot * SPREAD_MS) / (slots - 1)));
        entries.push({ scenario, atMs, durationMs: attackMs });
      });
    // Devices are picked in entry order: scenarios with preferred profiles pick first, those
    // indifferent to the device (brute force, token replay) take what is left.
    entries.sort(
      (a, b) => Number(scenarios[a.scenario].prefers.length === 0) - Number(scenarios[b.scenario].prefers.length === 0),
    );
    const total = BASELINE_MS + (SPREAD_MS === 0 ? (names.length - 1) * STAGGER_MS : SPREAD_MS) + attackMs;
    const runStart = Date.now();
    // The detector keeps its last 1,000 findings; a run raises more, so they are gathered as
    // they come (by id, every second: far fewer than 1,000 are raised in a second).
    const seen = new Map<string, Finding>();
    const gather = () => {
      for (const x of p.detection.findings()) seen.set(x.id, x);
    };
    gathering = setInterval(gather, 1_000);
    const result = await progress.phase(
      `${tag}quiet baseline ${BASELINE_MS / 1000} s, then ${names.length} scenarios x ${PER_SCENARIO} devices over ${SPREAD_MS / 1000} s`,
      () => {
        let ended = 0;
        const onEvent = (line: string) => {
          if (!line.endsWith(" ended") && !line.includes(" failed: ")) return;
          if (++ended % 100 === 0) progress.note(`${tag}${ended} of ${entries.length} attacks over`);
        };
        return runTimeline(f, entries, { signal, onEvent, observableDrift: true });
      },
      { expectSeconds: Math.round(total / 1000) + 5 },
    );
    await new Promise((r) => setTimeout(r, TAIL_MS));
    off();
    p.detection.detector.flush();
    clearInterval(gathering);
    gather();
    const findings: readonly Finding[] = [...seen.values()];
    const runEnd = Date.now();
    signal.throwIfAborted();
    if (result.errors.length > 0)
      progress.note(
        `attack errors: ${result.errors
          .map((e) => `${e.scenario}: ${e.error}`)
          .join(" | ")
          .slice(0, 2000)}`,
      );
    const profileOf = new Map(f.devices().map((d) => [d.id, d.profile]));
    for (const name of names) {
      const counts: Record<string, number> = {};
      for (const t of result.truths)
        if (t.scenario === name) counts[profileOf.get(t.device) ?? "new"] = (counts[profileOf.get(t.device) ?? "new"] ?? 0) + 1;
      progress.note(
        `${name} attacked: ${Object.entries(counts)
          .map(([p, c]) => `${c} ${p}`)
          .join(", ")}`,
      );
    }
    const loadEnd = loadavg()[0] ?? 0;

    const attacked = new Set<string>();
    for (const t of result.truths) for (const a of t.actors) attacked.add(a);
    const benign = f
      .devices()
      .filter((d) => !attacked.has(d.id))
      .map((d) => d.id);
    const benignSet = new Set(benign);
    const per: RoundResult["per"] = {};
    for (const name of names) {
      const rule = RIGHT_RULE[name];
      const truths = result.truths.filter((t) => t.scenario === name);
      const delays: number[] = [];
      let hits = 0;
      for (const t of truths) {
        const first = firstDetection(t, rule, findings, replays);
        if (first !== undefined) {
          hits++;
          delays.push(first);
        }
      }
      const falseDevices = new Set(findings.filter((x) => x.rule === rule && benignSet.has(x.device)).map((x) => x.device));
      per[name] = { attempts: PER_SCENARIO, hits, delays, falseDevices: falseDevices.size };
    }
    const anyFalse = new Set(findings.filter((x) => benignSet.has(x.device)).map((x) => x.device));
    if (anyFalse.size > 0)
      progress.note(
        `false findings: ${findings
          .filter((x) => benignSet.has(x.device))
          .map((x) => `${x.device} ${x.rule}`)
          .join(", ")
          .slice(0, 600)}`,
      );
    return {
      fleet: f.devices().length,
      benign: benign.length,
      anyFalse: anyFalse.size,
      attacks: result.truths.length,
      errors: result.errors.length,
      runS: (runEnd - runStart) / 1000,
      loadEnd,
      findings: findings.length,
      blocks: findings.map((x) => x.detectToBlockMs).filter((v): v is number => v !== null),
      per,
    };
  } finally {
    clearInterval(gathering);
    // Bounded: a device stuck mid-reconnect must not hold the benchmark (its figures are in).
    await bounded(fleet?.stop(), 60_000, progress, "fleet stop");
    await bounded(platform?.stop(), 60_000, progress, "Vigil stop");
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Waits for `work` at most `ms` (a note if it did not finish); never throws. */
async function bounded(work: Promise<unknown> | undefined, ms: number, progress: Progress, what: string): Promise<void> {
  if (work === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), ms)));
  const outcome = await Promise.race([
    work.then(
      () => "done" as const,
      () => "done" as const,
    ),
    late,
  ]);
  clearTimeout(timer);
  if (outcome === "late") progress.note(`${what} did not finish in ${ms / 1000} s: left behind`);
}

/** ms from the attack's start to its first detection by the right rule, or undefined. */
function firstDetection(
  t: GroundTruth,
  rule: string,
  findings: readonly Finding[],
  replays: readonly { device: string | null; at: number }[],
): number | undefined {
  const start = Date.parse(t.start);
  const end = Date.parse(t.end) + TAIL_MS;
  const actors = new Set(t.actors);
  let best: number | undefined;
  const consider = (at: number) => {
    if (at < start || at > end) return;
    if (best === undefined || at - start < best) best = at - start;
  };
  if (rule === "enrollment.token_replayed") {
    for (const r of replays) if (r.device === null || actors.has(r.device)) consider(r.at);
    return best;
  }
  for (const f of findings) {
    if (f.rule !== rule) continue;
    if (actors.has(f.device) || (t.scenario === "brute-force" && f.device.startsWith("source:"))) consider(f.at);
  }
  return best;
}

// --- 2. the detector alone --------------------------------------------------------------------

export function throughputPart(): Record<string, number> {
  const config = DETECTION_DEFAULTS as DetectionConfig;
  const profiles = ["environmental-sensor", "smart-meter", "plc", "ip-camera"];
  let pending: (() => void) | undefined;
  const d = new Detector({ config, emit: () => undefined, schedule: (fn) => (pending = fn) });
  const ids = Array.from({ length: THROUGHPUT_DEVICES }, (_, i) => `tp-${i}`);
  const topics = ids.map((id) => [`devices/${id}/telemetry`, `devices/${id}/status`, `devices/${id}/events`]);
  // 256 JSON telemetry bodies (40-400 B, 3-12 numeric fields), so the drift test does its real work.
  const bodies = Array.from({ length: 256 }, (_, k) => {
    const o: Record<string, unknown> = { ts: 1_700_000_000_000 + k, state: "ok" };
    for (let f = 0; f < 3 + (k % 10); f++) o[`f${f}`] = Math.round((20 + f + Math.sin(k * (f + 1)) * 2) * 100) / 100;
    return Buffer.from(JSON.stringify(o).padEnd(40 + ((k * 37) % 361), " "));
  });
  let now = 1_700_000_000_000;
  for (let i = 0; i < ids.length; i++) d.connected(ids[i]!, profiles[i % profiles.length]!, "10.0.0.1:5000", now);
  // Warm up the JIT on a short stream, then measure.
  const stream = (events: number) => {
    let seed = 12345;
    for (let e = 0; e < events; e++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const i = e % THROUGHPUT_DEVICES;
      const body = bodies[seed % bodies.length]!;
      d.observe(ids[i]!, topics[i]![seed % 3]!, body.length, now, body);
      if (e % 100 === 99) now += 1;
      if (pending !== undefined && e % 4096 === 0) {
        const run = pending;
        pending = undefined;
        run();
      }
    }
    d.flush();
  };
  stream(200_000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  stream(THROUGHPUT_EVENTS);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;

  // State per device: heap growth over N new devices (each connected, one message).
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (() => void) | undefined;
  let bytesPerDevice = -1;
  if (typeof gc === "function") {
    const d2 = new Detector({ config, emit: () => undefined, schedule: () => undefined });
    d2.connected("warm", profiles[0]!, "10.0.0.1:5000", now);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < THROUGHPUT_DEVICES; i++) {
      d2.connected(ids[i]!, profiles[i % profiles.length]!, "10.0.0.1:5000", now);
      d2.observe(ids[i]!, topics[i]![0]!, bodies[0]!.length, now, bodies[i % bodies.length]);
    }
    gc();
    gc();
    const after = process.memoryUsage().heapUsed;
    // The ids and topic strings already exist (allocated above): the growth is the detector's.
    bytesPerDevice = Math.round((after - before) / THROUGHPUT_DEVICES);
    if (d2.deviceCount !== THROUGHPUT_DEVICES + 1) throw new Error("state measurement lost devices");
  }
  return {
    detector_events: THROUGHPUT_EVENTS,
    detector_events_per_s: Math.round(THROUGHPUT_EVENTS / Math.max(1e-9, cpuSeconds)),
    detector_events_per_s_wall: Math.round(THROUGHPUT_EVENTS / Math.max(1e-9, wall)),
    detector_windows: d.counters.windows,
    detector_payloads_scanned: d.counters.payloads,
    state_bytes_per_device: bytesPerDevice,
  };
}

// --- 2b. fleet-scale drift trial --------------------------------------------------------------

/** Profiles the behaviour-drift scenario prefers (scenarios.ts), each with its own drifting cohort. */
const DRIFT_PROFILES = ["plc", "patient-monitor", "infusion-pump", "environmental-sensor"] as const;

export function fleetPart(rampMs: number): Record<string, number> {
  const profiles = Object.keys(behaviours());
  const benign: Record<string, number> = {};
  profiles.forEach(
    (p, i) => (benign[p] = Math.floor(FLEET_BENIGN / profiles.length) + (i < FLEET_BENIGN % profiles.length ? 1 : 0)),
  );
  const drifting: Record<string, number> = {};
  for (const p of DRIFT_PROFILES) drifting[p] = FLEET_DRIFTING;
  const t0 = performance.now();
  const r = runFleetTrial({
    seed: 7,
    benign,
    drifting,
    baselineMs: 600_000,
    spreadMs: 600_000,
    rampMs,
    tailMs: TAIL_MS,
    lateShare: 0.1,
    reboot: 0.0005,
    blip: 0.0005,
    dayLengthMs: 600_000,
  });
  const out: Record<string, number> = {
    drift_fleet_benign_devices: r.benign,
    drift_fleet_benign_flagged: r.benignFlagged,
    drift_fleet_fpr: round(r.benignFlagged / Math.max(1, r.benign), 4),
    drift_fleet_late_joiners: r.late,
    drift_fleet_late_joiners_flagged: r.benignFlaggedLate,
    drift_fleet_messages: r.messages,
    drift_fleet_reboots: r.reboots,
    drift_fleet_blips: r.blips,
    drift_fleet_simulated_s: Math.round(r.simulatedMs / 1000),
    drift_fleet_ramp_s: Math.round(rampMs / 1000),
    drift_fleet_wall_s: round((performance.now() - t0) / 1000, 1),
  };
  let attacked = 0;
  let detected = 0;
  const delays: number[] = [];
  for (const p of DRIFT_PROFILES) {
    const x = r.perProfile[p] ?? { attacked: 0, detected: 0, detectMs: [], rampMs };
    attacked += x.attacked;
    detected += x.detected;
    delays.push(...x.detectMs);
    const sorted = [...x.detectMs].sort((a, b) => a - b);
    out[`drift_fleet_${p}_attacked`] = x.attacked;
    out[`drift_fleet_${p}_detected`] = x.detected;
    out[`drift_fleet_${p}_tpr`] = round(x.detected / Math.max(1, x.attacked));
    out[`drift_fleet_${p}_detect_ms`] = sorted.length === 0 ? -1 : Math.round(percentile(sorted, 50));
    out[`drift_fleet_${p}_ramp_s`] = Math.round((x.rampMs ?? rampMs) / 1000);
  }
  delays.sort((a, b) => a - b);
  out.drift_fleet_attacked = attacked;
  out.drift_fleet_detected = detected;
  out.drift_fleet_tpr = round(detected / Math.max(1, attacked));
  out.drift_fleet_detect_ms = delays.length === 0 ? -1 : Math.round(percentile(delays, 50));
  return out;
}

function behaviours(): Record<string, true> {
  return Object.fromEntries(Object.keys(mixes.mixed).map((p) => [p, true]));
}

// --- 2c. gateway throughput with detection on vs off ------------------------------------------

/**
 * Two gateways on one platform, alike but for the inline observer: one runs the platform's
 * detector on every PUBLISH (rules, exfiltration limit, payload drift), one has none.
 * Alternated off / on / off / on, QoS 0, JSON telemetry payloads.
 */
async function gatewayPart(duration: number, progress: Progress, signal: AbortSignal): Promise<Record<string, number>> {
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-detection-gw-"));
  let p: Platform | undefined;
  const gateways: Gateway[] = [];
  try {
    p = await progress.phase("gateway on/off: start Vigil (gateway off)", () =>
      startBenchVigil(tmp, { "mqtt-enabled": "false" }),
    );
    const platform = p;
    const creds = await progress.phase(`gateway on/off: enroll ${GATEWAY_DEVICES} devices and a subscriber`, () =>
      enrollLoadDevices(platform, tmp, "gw", GATEWAY_DEVICES),
    );
    const toIdentity = (c: DeviceCredentials) => ({ id: c.deviceId, cert: c.certPem, key: c.keyPem });
    const make = async (observer: boolean) => {
      const g = new Gateway({
        settings: {
          host: "127.0.0.1",
          port: 0,
          handshakeTimeoutMs: 10_000,
          connectTimeoutMs: 10_000,
          maxConnectionsPerSource: 1000,
          throttleDropsBeforeDisconnect: 1000,
        },
        ca: platform.authority,
        devices: platform.store.devices,
        certificates: platform.store.certificates,
        bus: platform.bus,
        clock: platform.clock,
        log: moduleLogger(platform.log, "gateway"),
        profiles: () => BENCH_PROFILE,
        services: new Map([["collector", ["devices/+/telemetry"]]]),
        ...(observer ? { observer: platform.detection.observe } : {}),
      });
      await g.start();
      gateways.push(g);
      return g;
    };
    const off = await make(false);
    const on = await make(true);
    const common = {
      ca: platform.ca,
      devices: creds.slice(0, GATEWAY_DEVICES).map(toIdentity),
      collector: toIdentity(creds[GATEWAY_DEVICES]!),
      seconds: duration,
      warmupSeconds: 2,
      window: 10,
      payloadBytes: 120,
      maxSamples: 100_000,
      qos: 0,
    };
    const rates: Record<"on" | "off", number[]> = { on: [], off: [] };
    const p99: Record<"on" | "off", number[]> = { on: [], off: [] };
    for (const which of ["off", "on", "off", "on"] as const) {
      signal.throwIfAborted();
      const g = which === "on" ? on : off;
      const r = await progress.phase(
        `gateway, detection ${which}: ${GATEWAY_DEVICES} publishers -> 1 subscriber, QoS 0`,
        () => driveGateway({ ...common, url: g.url, payloadKind: "json" }, signal),
        { expectSeconds: duration + 4, summary: (x) => `${(x.delivered / x.seconds).toFixed(0)} msg/s` },
      );
      if (r.delivered === 0) throw new Error(`detection ${which}: nothing delivered (${r.errors.join(" | ")})`);
      rates[which].push(r.delivered / r.seconds);
      const sorted = [...r.latencies].sort((a, b) => a - b);
      p99[which].push(percentile(sorted, 99));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const counters = platform.detection.detector.counters;
    return {
      gateway_devices: GATEWAY_DEVICES,
      gateway_msgs_per_s_detection_off: Math.round(mean(rates.off)),
      gateway_msgs_per_s_detection_on: Math.round(mean(rates.on)),
      gateway_p99_ms_detection_off: round(mean(p99.off)),
      gateway_p99_ms_detection_on: round(mean(p99.on)),
      gateway_detection_on_vs_off: round(mean(rates.on) / mean(rates.off)),
      gateway_detector_messages: counters.messages,
      gateway_detector_payloads_scanned: counters.payloads,
    };
  } finally {
    for (const g of gateways) await g.stop().catch(() => undefined);
    await p?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

// --- 3. MQTTset replay ----------------------------------------------------------------------

/** One per-client event rebuilt from the packets. */
type MqttEvent =
  | { kind: "connect"; client: string; ts: number }
  | { kind: "refused"; client: string; ts: number }
  | { kind: "publish"; client: string; ts: number; topic: string; bytes: number }
  | { kind: "end"; client: string; ts: number };

interface Direction {
  /** Bytes of the current MQTT packet still to skip (it continued past this segment). */
  skip: number;
}

interface Conn {
  client: string | undefined;
  fromClient: Direction;
  toClient: Direction;
  ended: boolean;
}

const MQTT_PORT = 1883;

/** Decodes a capture into per-client MQTT events, ignoring every address (clients are keyed by client id). */
async function mqttEvents(file: string, tag: string): Promise<MqttEvent[]> {
  const events: MqttEvent[] = [];
  const conns = new Map<string, Conn>();
  let anon = 0;
  const pkt = newDecodedPacket();
  const reader = new CaptureReader((record) => {
    decodePacket(record, pkt);
    if (pkt.proto !== 6 || (pkt.srcPort !== MQTT_PORT && pkt.dstPort !== MQTT_PORT)) return;
    const fromClient = pkt.dstPort === MQTT_PORT;
    const clientPort = fromClient ? pkt.srcPort : pkt.dstPort;
    // The connection key uses the endpoints only to tell TCP connections apart; it is never a feature.
    const key = `${fromClient ? pkt.src4 : pkt.dst4}:${clientPort}|${pkt.src6 >= 0 ? "6" : "4"}`;
    let c = conns.get(key);
    if (c === undefined || (c.ended && (pkt.tcpFlags & 0x02) !== 0)) {
      c = { client: undefined, fromClient: { skip: 0 }, toClient: { skip: 0 }, ended: false };
      conns.set(key, c);
    }
    const ts = pkt.ts * 1000;
    const dir = fromClient ? c.fromClient : c.toClient;
    parseSegment(pkt.buf, pkt.payloadStart, pkt.payloadCaptured, pkt.payloadLen, dir, (type, body, bodyCaptured, total) => {
      if (fromClient && type === 1) {
        const id = connectClientId(pkt.buf, body, bodyCaptured) ?? `anon-${++anon}`;
        c.client = `${tag}:${id}`;
        events.push({ kind: "connect", client: c.client, ts });
      } else if (!fromClient && type === 2 && c.client !== undefined && bodyCaptured >= 2) {
        if (pkt.buf[body + 1] !== 0) events.push({ kind: "refused", client: c.client, ts });
      } else if (fromClient && type === 3 && c.client !== undefined) {
        const topic = bodyCaptured >= 2 ? publishTopic(pkt.buf, body, bodyCaptured) : "";
        events.push({ kind: "publish", client: c.client, ts, topic, bytes: total });
      } else if (fromClient && type === 14 && c.client !== undefined && !c.ended) {
        c.ended = true;
        events.push({ kind: "end", client: c.client, ts });
      }
    });
    if ((pkt.tcpFlags & 0x05) !== 0 && c.client !== undefined && !c.ended) {
      c.ended = true;
      events.push({ kind: "end", client: c.client, ts });
    }
  });
  reader.push(await readFile(file));
  reader.end();
  events.sort((a, b) => a.ts - b.ts);
  return events;
}

/**
 * Walks the MQTT packets of one TCP segment (`captured` of `wire` payload bytes present).
 * Calls `on(type, bodyOffset, bodyCapturedBytes, packetBytes)` per packet header seen.
 */
function parseSegment(
  b: Buffer,
  start: number,
  captured: number,
  wire: number,
  dir: Direction,
  on: (type: number, body: number, bodyCaptured: number, total: number) => void,
): void {
  let o = 0;
  if (dir.skip > 0) {
    const s = Math.min(dir.skip, wire);
    dir.skip -= s;
    o = s;
  }
  for (let guard = 0; guard < 256 && o < wire; guard++) {
    if (o + 2 > captured) return; // header beyond the snaplen: the rest of this segment is lost
    const type = b[start + o]! >> 4;
    let len = 0;
    let mul = 1;
    let h = o + 1;
    let ok = false;
    for (let i = 0; i < 4 && h < captured; i++) {
      const byte = b[start + h++]!;
      len += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) {
        ok = true;
        break;
      }
    }
    if (!ok || type === 0) return; // malformed or split header: give up on this segment
    const total = h - o + len;
    on(type, start + h, Math.max(0, Math.min(len, captured - h)), total);
    if (o + total > wire) {
      dir.skip = o + total - wire;
      return;
    }
    o += total;
  }
}

function connectClientId(b: Buffer, body: number, captured: number): string | undefined {
  if (captured < 2) return undefined;
  const nameLen = b.readUInt16BE(body);
  let o = body + 2 + nameLen;
  const end = body + captured;
  if (o + 4 > end) return undefined;
  const level = b[o]!;
  o += 4;
  if (level === 5) {
    let len = 0;
    let mul = 1;
    for (let i = 0; i < 4 && o < end; i++) {
      const byte = b[o++]!;
      len += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) break;
    }
    o += len;
  }
  if (o + 2 > end) return undefined;
  const idLen = b.readUInt16BE(o);
  if (o + 2 + idLen > end) return undefined;
  return b.toString("utf8", o + 2, o + 2 + idLen);
}

function publishTopic(b: Buffer, body: number, captured: number): string {
  const n = b.readUInt16BE(body);
  return b.toString("latin1", body + 2, body + 2 + Math.min(n, captured - 2));
}

/** Per-client windows of the detector's features (DeviceState), closed on the window grid, at session end and at the end. */
function windowsOf(events: readonly MqttEvent[], windowMs: number): Float64Array[] {
  const config = DETECTION_DEFAULTS as DetectionConfig;
  const peer = new PeerGroup("mqttset");
  const rules = rulesFor(config, null);
  const states = new Map<string, DeviceState>();
  const out: Float64Array[] = [];
  const close = (s: DeviceState, now: number, span: number) => {
    const x = new Float64Array(FEATURE_COUNT);
    s.closeWindow(x, 0, span, now);
    out.push(x);
  };
  for (const e of events) {
    let s = states.get(e.client);
    if (s === undefined) {
      s = new DeviceState(e.client, "mqttset", peer, rules, e.ts);
      states.set(e.client, s);
    }
    if (s.winStart < 0) s.winStart = e.ts;
    else if (e.ts - s.winStart >= windowMs) close(s, e.ts, Math.min(e.ts - s.winStart, 6 * windowMs));
    s.lastSeen = e.ts;
    if (e.kind === "connect") s.winSessions++;
    else if (e.kind === "publish") {
      // The same bookkeeping as Detector.observe.
      s.winMsgs++;
      s.winBytes += e.bytes;
      s.winSizeSq += e.bytes * e.bytes;
      if (s.lastMsgAt >= 0) {
        const gap = e.ts - s.lastMsgAt;
        s.winGapSum += gap;
        s.winGapSq += gap * gap;
        s.winGaps++;
      }
      s.lastMsgAt = e.ts;
      let h = 0x811c9dc5;
      for (let i = 0; i < e.topic.length; i++) h = Math.imul(h ^ e.topic.charCodeAt(i), 0x01000193);
      if (s.noteTopic(h >>> 0)) s.winNewTopics++;
    } else if (e.kind === "end") {
      close(s, e.ts, windowMs);
      s.winStart = -1;
    }
  }
  for (const s of states.values()) if (s.winStart >= 0) close(s, s.lastSeen, windowMs);
  return out;
}

/** The real detector (rules + model) over a capture's events: share of clients with any finding. */
function ruleClients(events: readonly MqttEvent[]): { clients: number; flagged: number } {
  const config = DETECTION_DEFAULTS as DetectionConfig;
  const flagged = new Set<string>();
  const d = new Detector({ config, emit: (f) => flagged.add(f.device), schedule: () => undefined });
  const clients = new Set<string>();
  let n = 0;
  for (const e of events) {
    clients.add(e.client);
    if (e.kind === "connect") d.connected(e.client, "mqttset", "client", e.ts);
    else if (e.kind === "refused") d.refused(e.client, "client", "device_unknown", e.ts);
    else if (e.kind === "publish") d.observe(e.client, e.topic, e.bytes, e.ts);
    else d.disconnected(e.client, e.ts);
    if (++n % 1024 === 0) d.flush();
  }
  d.flush();
  let mine = 0;
  for (const f of flagged) if (clients.has(f)) mine++;
  return { clients: clients.size, flagged: mine };
}

function roc(neg: readonly number[], pos: readonly number[]): { auc: number; tprAt1: number } {
  const all = [...neg.map((s) => ({ s, y: 0 })), ...pos.map((s) => ({ s, y: 1 }))].sort((a, b) => b.s - a.s);
  let tp = 0;
  let fp = 0;
  let auc = 0;
  let tprAt1 = 0;
  for (let k = 0; k < all.length;) {
    const s = all[k]!.s;
    let dtp = 0;
    let dfp = 0;
    while (k < all.length && all[k]!.s === s) {
      if (all[k]!.y === 1) dtp++;
      else dfp++;
      k++;
    }
    auc += dfp * (tp + dtp / 2);
    tp += dtp;
    fp += dfp;
    if (fp / neg.length <= 0.01) tprAt1 = Math.max(tprAt1, tp / pos.length);
  }
  return { auc: auc / (pos.length * neg.length), tprAt1 };
}

export async function mqttsetPart(): Promise<Record<string, number>> {
  const windowMs = DETECTION_DEFAULTS.windowMs;
  const out: Record<string, number> = {};
  const benign = await mqttEvents(join(MQTTSET_DIR, "benign-5mb-train.pcap"), "benign");
  if (benign.length === 0) throw new Error("no MQTT events decoded from benign-5mb-train.pcap");
  const mid = benign[0]!.ts + (benign[benign.length - 1]!.ts - benign[0]!.ts) / 2;
  const train = benign.filter((e) => e.ts < mid);
  const test = benign.filter((e) => e.ts >= mid);
  const peer = new PeerGroup("mqttset");
  for (const x of windowsOf(train, windowMs)) peer.baseline.update(x);
  const score = new Float64Array(2);
  const negScores = windowsOf(test, windowMs).map((x) => peer.baseline.score(x, score));
  out.mqttset_benign_events = benign.length;
  out.mqttset_benign_train_windows = peer.baseline.n;
  out.mqttset_benign_test_windows = negScores.length;
  const benignRules = ruleClients(test);
  out.mqttset_benign_rule_clients = round(benignRules.flagged / Math.max(1, benignRules.clients));
  const attacks: [string, string][] = [
    ["bruteforce", "bruteforce-train.pcapng"],
    ["flood", "flood-train.pcap"],
    ["malariados", "malariados-train.pcap"],
    ["malformed", "malformed-train.pcap"],
    ["slowite", "slowite-train.pcap"],
  ];
  for (const [name, file] of attacks) {
    const events = await mqttEvents(join(MQTTSET_DIR, file), name);
    const pos = windowsOf(events, windowMs).map((x) => peer.baseline.score(x, score));
    out[`mqttset_${name}_events`] = events.length;
    out[`mqttset_${name}_windows`] = pos.length;
    if (pos.length === 0 || negScores.length === 0) {
      out[`mqttset_${name}_auc`] = -1;
      out[`mqttset_${name}_tpr_at_1pct_fpr`] = -1;
    } else {
      const r = roc(negScores, pos);
      out[`mqttset_${name}_auc`] = round(r.auc);
      out[`mqttset_${name}_tpr_at_1pct_fpr`] = round(r.tprAt1);
    }
    const rules = ruleClients(events);
    out[`mqttset_${name}_rule_clients`] = round(rules.flagged / Math.max(1, rules.clients));
  }
  return out;
}
