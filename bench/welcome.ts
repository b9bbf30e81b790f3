// Benchmark `welcome`: the onboarding path end to end — from a fresh device's first EST
// request to its first publish delivered to a subscriber — over N devices.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, enroll, ensureDeviceKey } from "../packages/device-sdk/src/index.js";
import { Platform, loadConfig } from "../packages/server/src/app/index.js";
import { createRootLogger } from "../packages/server/src/core/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";

export const title = "welcome: first EST request to first delivered publish (enroll, score, tier, connect, publish)";

const DEFAULT_DEVICES = 1000;
const MAX_DEVICES = 10_000;

function deviceCount(): number {
  const raw = process.env.VIGIL_BENCH_WELCOME_DEVICES;
  if (raw === undefined || raw === "") return DEFAULT_DEVICES;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_DEVICES) {
    throw new Error(`VIGIL_BENCH_WELCOME_DEVICES must be 1..${MAX_DEVICES}, not ${JSON.stringify(raw)}`);
  }
  return n;
}

export const about = `Time from a fresh device's **first EST request** to its **first publish delivered** to a subscriber, per device,
over ${DEFAULT_DEVICES} devices (\`VIGIL_BENCH_WELCOME_DEVICES\` to change, at most ${MAX_DEVICES}), \`--connections\` devices
onboarding at a time, on loopback. Each device uses the device SDK exactly as firmware would:

- \`enroll()\`: HTTPS + EST \`simpleenroll\` with a one-use claim token and a \`Vigil-Posture\` header (firmware
  version); Vigil checks the token, the CSR and the posture, issues a P-256 certificate, stores device and
  certificate (SQLite), emits \`identity.issued\` and \`enrollment.completed\` — on which the trust service scores the
  device (attestation, key, certificate, firmware) and sets its tier, synchronously;
- \`connect()\`: MQTT 3.1.1 over mutual TLS to the gateway, which checks the certificate, takes the device's tier from
  the trust service and compiles its policy; the SDK subscribes its control channel;
- \`publishTelemetry()\` (QoS 0), authorised against the policy and delivered to an in-process subscriber of
  \`devices/+/telemetry\`; the clock stops when the subscriber receives it.

The device's key pair is generated before the clock starts (a device makes it once, at the factory or first boot).
Server and devices run in **one process** (the devices' TLS and SDK work competes with the server's for the same
event loop), so the figures are an upper bound of what the server alone costs. Goal: \`welcome_p99_ms\` <= 250.`;

export function budgetSeconds(): number {
  return 120 + deviceCount() / 5;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function run({ connections, progress, signal }: BenchOptions): Promise<BenchOutput> {
  const count = deviceCount();
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-welcome-"));
  let platform: Platform | undefined;
  try {
    platform = await progress.phase("start Vigil (fresh data dir)", async () => {
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
    const ids = Array.from({ length: count }, (_, i) => `welcome-${i}`);
    const { tokens } = await progress.phase(`create ${count} claim tokens`, () =>
      p.enrollment.createTokens({ profile: "environmental-sensor", ttlSeconds: 3600, count, by: "bench" }),
    );
    await progress.phase(`generate ${count} device keys (before the clock starts)`, async () => {
      for (const id of ids) await ensureDeviceKey(join(tmp, "devices", id));
    });

    const started = new Map<string, number>();
    const latencies: number[] = [];
    const waiting = new Map<string, () => void>();
    const unsubscribe = await p.gateway.subscribe("devices/+/telemetry", (topic) => {
      const id = topic.split("/")[1] ?? "";
      const t0 = started.get(id);
      if (t0 === undefined) return;
      latencies.push(performance.now() - t0);
      started.delete(id);
      waiting.get(id)?.();
    });
    const failures: string[] = [];
    let tiers = 0;

    const welcomeOne = async (index: number) => {
      const id = ids[index]!;
      const dir = join(tmp, "devices", id);
      const delivered = new Promise<void>((resolve) => waiting.set(id, resolve));
      started.set(id, performance.now());
      await enroll({
        server: p.url,
        caPem: p.ca,
        deviceId: id,
        dir,
        attestation: { kind: "claim-token", token: tokens[index]! },
        posture: { firmwareVersion: "2.4.1" },
      });
      const connection = await connect({ url: p.gateway.url, dir });
      try {
        if (p.gateway.policyOf(id)?.tier === p.trust.explain(id)?.tier) tiers++;
        await connection.publishTelemetry({ t: 21.5 }, { qos: 0 });
        await Promise.race([
          delivered,
          new Promise<void>((_, reject) => setTimeout(() => reject(new Error("not delivered within 10 s")), 10_000).unref()),
        ]);
      } finally {
        waiting.delete(id);
        await connection.close();
      }
    };

    const begin = performance.now();
    await progress.phase(
      `welcome ${count} devices, ${connections} at a time`,
      async () => {
        let next = 0;
        const lane = async () => {
          while (next < count && !signal.aborted && failures.length < 10) {
            const index = next++;
            await welcomeOne(index).catch((error: unknown) => failures.push(`${ids[index]}: ${(error as Error).message}`));
          }
        };
        await Promise.all(Array.from({ length: Math.min(connections, count) }, lane));
      },
      { expectSeconds: Math.round(count / 60), summary: () => `${latencies.length} welcomed, ${failures.length} failed` },
    );
    const seconds = (performance.now() - begin) / 1000;
    await unsubscribe();
    signal.throwIfAborted();
    if (failures.length > 0) throw new Error(`welcomes failed: ${failures.join(" | ")}`);

    const sorted = [...latencies].sort((a, b) => a - b);
    const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
    const distribution = p.trust.distribution(0);
    return {
      figures: {
        devices: latencies.length,
        welcome_p50_ms: round(percentile(sorted, 50)),
        welcome_p99_ms: round(percentile(sorted, 99)),
        welcome_max_ms: round(sorted[sorted.length - 1] ?? 0),
        welcomed_per_s: round(latencies.length / seconds, 1),
        concurrency: connections,
        tier_in_force_matches_score: tiers,
        standard_tier: distribution.tiers.standard,
      },
      ratios: { p99_goal_ratio: round(250 / Math.max(0.001, percentile(sorted, 99)), 3) },
    };
  } finally {
    await platform?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
