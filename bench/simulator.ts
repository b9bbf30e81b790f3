// Benchmark `simulator`: how many simulated devices one simulator process holds connected to
// a Vigil in another process, the resident memory each costs, and how fast they connect.
import { fork } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Fleet, platformTarget, readFleetManifest } from "../packages/server/src/simulator/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";
import { startBenchVigil } from "./lib/vigil.js";

const TARGET = 10_000;
const devicesWanted = (): number => {
  const raw = process.env.VIGIL_BENCH_SIM_DEVICES;
  const n = raw === undefined ? TARGET : Number(raw);
  if (!Number.isSafeInteger(n) || n < 10 || n > 18_000) throw new Error(`VIGIL_BENCH_SIM_DEVICES must be 10-18000, not ${raw}`);
  return n;
};
/** Where the Vigil data dir and the enrolled fleet are kept between runs (enrolling 10,000 takes minutes). */
const cacheDir = (): string => process.env.VIGIL_BENCH_SIM_DIR ?? join(tmpdir(), "vigil-bench-simulator");

export const title = "simulated devices from one simulator process: devices connected, memory per device, connect rate";

export const about = `The issue's target is ${TARGET.toLocaleString("en")} simulated devices from one process. The fleet
(\`city\` mix: environmental sensors, cameras, meters, vehicles) is enrolled once over EST with claim tokens and saved
(\`Fleet.saveIdentities\`, as \`vigil simulate --save-identities DIR\`) in \`VIGIL_BENCH_SIM_DIR\` (default
\`$TMPDIR/vigil-bench-simulator\`, with the Vigil data dir that issued the certificates); later runs reuse it. Vigil runs
in the benchmark's process; the fleet runs in a child process (\`bench/lib/simulator-fleet.ts\`, \`Fleet.startSaved\`,
as \`vigil simulate --identities DIR\`): each device loads its key and certificate, connects over mutual TLS with the
device SDK (\`--connections\` at once, default 20) and sends its profile's telemetry. Devices whose session dropped during the connect phase are given up to 120 s
to reconnect (\`settle_seconds\`); \`devices_connected\` counts the sessions up after that, and the reconnects in
each phase are reported. Figures: devices connected, the
child's resident-memory growth per device (after GC, once all are connected and again after \`--duration\` seconds
of telemetry), connections per second, telemetry messages per second. \`VIGIL_BENCH_SIM_DEVICES=N\` changes the
count (each device is one file descriptor on both sides: \`ulimit -n\` must exceed it).`;

export function budgetSeconds({ duration }: { duration: number }): number {
  return 300 + Math.ceil(devicesWanted() / 20) + duration;
}

function vmRssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export async function run({ progress, signal, duration, connections }: BenchOptions): Promise<BenchOutput> {
  const wanted = devicesWanted();
  const root = cacheDir();
  const fleetDir = join(root, "fleet");
  await mkdir(root, { recursive: true, mode: 0o700 });
  const platform = await progress.phase("start Vigil (kept data dir)", () =>
    startBenchVigil(root, {
      "mqtt-max-connections-per-source": "1000000",
      "mqtt-throttle-drops-before-disconnect": "10000000",
    }),
  );
  const figures: Record<string, number> = { devices_wanted: wanted };
  try {
    let saved = 0;
    if (existsSync(join(fleetDir, "fleet.json")))
      saved = await readFleetManifest(fleetDir, platform.ca).then(
        (m) => m.devices.length,
        () => 0,
      );
    if (saved < wanted) {
      await rm(fleetDir, { recursive: true, force: true });
      const fleet = new Fleet({ target: platformTarget(platform, "bench"), workDir: fleetDir, prefix: "bench", seed: 1 });
      const t0 = performance.now();
      const enrolled = await progress.phase(
        `enroll ${wanted} devices over EST (once; saved for later runs)`,
        () => fleet.enroll(wanted, "city"),
        { expectSeconds: Math.ceil(wanted / 30) },
      );
      figures.enroll_rate_per_s = Math.round((enrolled / ((performance.now() - t0) / 1000)) * 10) / 10;
      await fleet.saveIdentities();
    }
    signal.throwIfAborted();
    const child = fork(fileURLToPath(new URL("./lib/simulator-fleet.ts", import.meta.url)), [], {
      execArgv: ["--conditions=vigil-source", "--import", "tsx", "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const messages: { kind: string; [k: string]: unknown }[] = [];
    const waiters = new Set<() => void>();
    child.on("message", (m: { kind: string; line?: string; connected?: number }) => {
      if (m.kind === "note" && m.line !== undefined) progress.note(`  ${m.line}`);
      else if (m.kind === "progress") progress.note(`  ${m.connected} devices connected`);
      else messages.push(m);
      for (const w of waiters) w();
    });
    const next = async <T>(kind: string): Promise<T> => {
      for (;;) {
        const i = messages.findIndex((m) => m.kind === kind || m.kind === "fatal");
        if (i >= 0) {
          const m = messages.splice(i, 1)[0]!;
          if (m.kind === "fatal") throw new Error(`fleet failed: ${String(m.message)}`);
          return m as unknown as T;
        }
        if (child.exitCode !== null) throw new Error(`fleet exited with ${child.exitCode}`);
        signal.throwIfAborted();
        await new Promise<void>((resolve) => {
          const done = () => {
            waiters.delete(done);
            resolve();
          };
          waiters.add(done);
          setTimeout(done, 1_000);
        });
      }
    };
    try {
      child.send({
        workDir: fleetDir,
        apiUrl: platform.url,
        mqttUrl: platform.gateway.url,
        caPem: platform.ca,
        devices: wanted,
        concurrency: connections,
      });
      const connected = await progress.phase(
        `connect ${wanted} saved devices from the fleet process`,
        (): Promise<{
          baselineKb: number;
          connectMs: number;
          settleMs: number;
          started: number;
          connected: number;
          failures: number;
          reconnects: number;
        }> => next("connected"),
        { expectSeconds: Math.ceil(wanted / 80) },
      );
      await next("ready");
      const sample = async () => {
        child.send({ kind: "sample" });
        const m: { rssKb: number; connected: number; sent: number; reconnects: number } = await next("sample");
        return m;
      };
      const atConnect = await sample();
      const gatewaySessions = platform.gateway.sessionCount;
      await progress.phase(
        `hold the fleet for ${duration} s of telemetry`,
        () => sleep(duration * 1_000, undefined, { signal }),
        {
          expectSeconds: duration,
        },
      );
      const after = await sample();
      const perDevice = (kb: number) => Math.round(((kb - connected.baselineKb) / Math.max(1, connected.connected)) * 10) / 10;
      Object.assign(figures, {
        devices_started: connected.started,
        devices_connected: connected.connected,
        connect_failures: connected.failures,
        settle_seconds: Math.round(connected.settleMs / 100) / 10,
        reconnects_during_connect: connected.reconnects,
        reconnects_during_telemetry: after.reconnects - atConnect.reconnects,
        connect_seconds: Math.round(connected.connectMs / 100) / 10,
        connect_rate_per_s: Math.round((connected.connected / (connected.connectMs / 1000)) * 10) / 10,
        fleet_rss_mb: Math.round(after.rssKb / 1024),
        rss_per_device_kb: perDevice(atConnect.rssKb),
        rss_per_device_kb_after_telemetry: perDevice(after.rssKb),
        devices_connected_after_telemetry: after.connected,
        telemetry_msgs_per_s: Math.round((after.sent - atConnect.sent) / duration),
        vigil_rss_mb: Math.round(vmRssKb(process.pid) / 1024),
        gateway_sessions: gatewaySessions,
      });
      child.send({ kind: "stop" });
      await Promise.race([next("stopped"), sleep(60_000)]).catch(() => undefined);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  } finally {
    await platform.stop("bench done");
  }
  return {
    figures,
    ratios: { devices_connected_vs_target: Math.floor(((figures.devices_connected ?? 0) / TARGET) * 10_000) / 10_000 },
  };
}
