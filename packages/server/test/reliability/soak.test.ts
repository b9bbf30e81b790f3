import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cleanEnv, repoRoot, tempDir } from "../support.js";
import { launchDaemon, type Daemon } from "./daemon-fixture.js";
import { envCount } from "./fuzz-support.js";
import { median, memoryChartSvg, type MemorySample } from "./memory-chart.js";

// Soak: `vigil up` in one process, a simulated fleet (simulator + device SDK: EST enrollment,
// mutual-TLS MQTT, each profile's telemetry) in another, for a fixed time; the daemon's RSS
// (from /proc) and V8 heap (from /metrics) sampled every few seconds. After the warm-up
// (enrollment, connection, first baselines), memory must be flat: the median RSS of the last
// third of the samples at most 10 % above the median of the first third. Medians of windows,
// not single samples, so that a garbage-collection sawtooth is not read as growth; a leak of
// anything per message or per reconnect grows steadily and fails it.
// CI: 300 devices for 75 s. `npm run test:long`: 5,000 devices for 1 hour
// (VIGIL_SOAK_DEVICES, VIGIL_SOAK_SECONDS, VIGIL_SOAK_SAMPLE_SECONDS, VIGIL_SOAK_WARMUP_SECONDS).

const devices = envCount("VIGIL_SOAK_DEVICES", 300);
const seconds = envCount("VIGIL_SOAK_SECONDS", 75);
const sampleSeconds = envCount("VIGIL_SOAK_SAMPLE_SECONDS", 2);
const warmupSeconds = envCount("VIGIL_SOAK_WARMUP_SECONDS", Math.round(seconds / 3));
const FLAT = 1.1;
const work = tempDir("vigil-soak-");
let daemon: Daemon | undefined;
after(async () => {
  await daemon?.stop();
  work.remove();
});

test(`soak: ${devices} devices for ${seconds} s, the daemon's memory flat within 10 % after a ${warmupSeconds} s warm-up`, async () => {
  const d = await launchDaemon({
    dataDir: join(work.path, "data"),
    flags: ["--mqtt-max-connections-per-source", "100000"],
  });
  daemon = d;
  const options = {
    url: d.anonymous.url,
    caFile: join(work.path, "data", "tls", "ca.pem"),
    token: d.admin.token,
    mqttUrl: d.mqttUrl,
    devices,
    durationMs: (seconds + 5) * 1000,
    workDir: join(work.path, "fleet"),
    seed: 42,
    mix: "city",
  };
  const fleet = spawn(
    process.execPath,
    [
      "--conditions=vigil-source",
      "--import",
      `file://${join(repoRoot, "node_modules/tsx/dist/esm/index.mjs")}`,
      join(import.meta.dirname, "soak-fleet.ts"),
      JSON.stringify(options),
    ],
    { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] },
  );
  let last:
    { type: string; enrollMs?: number; stats: { devices: number; connected: number; sent: number; failed: number } } | undefined;
  let stderr = "";
  fleet.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  let buffered = "";
  fleet.stdout.on("data", (c: Buffer) => {
    buffered += c.toString();
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        last = JSON.parse(line) as typeof last;
      } catch {
        // a progress line of the simulator
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => fleet.on("exit", (code) => resolve(code)));
  try {
    // Enrollment runs at the machine's handshake rate: allow a generous bound for it.
    const readyBy = Date.now() + 60_000 + devices * 200;
    while (last?.type !== "ready") {
      if (Date.now() > readyBy || fleet.exitCode !== null)
        throw new Error(`the fleet did not get ready:\n${stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const enrollMs = last.enrollMs;
    assert.ok(last.stats.connected >= devices * 0.95, `devices connected: ${last.stats.connected} of ${devices}`);

    const samples: MemorySample[] = [];
    const start = Date.now();
    while (Date.now() - start < seconds * 1000) {
      const rss = d.rssKiB();
      assert.ok(rss !== undefined, "the daemon is running");
      samples.push({
        t: Math.round((Date.now() - start) / 100) / 10,
        rssMiB: Math.round((rss / 1024) * 10) / 10,
        heapUsedMiB: await d.heapUsedMiB(),
        connected: last?.stats.connected ?? null,
      });
      await new Promise((r) => setTimeout(r, sampleSeconds * 1000));
    }
    assert.ok(await d.healthy(10_000), "the daemon is healthy at the end of the soak");
    const end = last?.stats;
    fleet.kill("SIGTERM");
    await exited;

    const steady = samples.filter((s) => s.t >= warmupSeconds);
    const third = Math.max(1, Math.floor(steady.length / 3));
    const first = median(steady.slice(0, third).map((s) => s.rssMiB));
    const lastThird = median(steady.slice(-third).map((s) => s.rssMiB));
    const peak = Math.max(...steady.map((s) => s.rssMiB));
    const figures = {
      devices,
      seconds,
      sampleSeconds,
      warmupSeconds,
      enrollMs,
      connectedAtEnd: end?.connected,
      messagesSent: end?.sent,
      publishFailures: end?.failed,
      rssFirstThirdMedianMiB: first,
      rssLastThirdMedianMiB: lastThird,
      rssPeakAfterWarmupMiB: peak,
      growth: Math.round((lastThird / first - 1) * 1000) / 10,
      samples,
    };
    const out = process.env.VIGIL_RELIABILITY_OUT ?? work.path;
    writeFileSync(join(out, `soak-${devices}.json`), `${JSON.stringify(figures, null, 2)}\n`);
    writeFileSync(
      join(out, `soak-${devices}.svg`),
      memoryChartSvg(samples, `vigil up, ${devices} simulated devices, ${seconds} s: RSS and heap (MiB)`, warmupSeconds),
    );
    process.stdout.write(`soak figures: ${JSON.stringify({ ...figures, samples: samples.length })}\n`);
    assert.ok(steady.length >= 6, `enough samples after the warm-up (${steady.length})`);
    assert.ok(
      lastThird <= first * FLAT,
      `RSS after warm-up grew from a median of ${first} MiB (first third) to ${lastThird} MiB (last third): more than 10 %`,
    );
    assert.ok((end?.connected ?? 0) >= devices * 0.95, `devices still connected at the end: ${end?.connected} of ${devices}`);
  } finally {
    if (fleet.exitCode === null) fleet.kill("SIGKILL");
  }
});
