// The simulated fleet of `npm run bench -- simulator`, in its own process (the Vigil it talks
// to runs in the benchmark's process): it connects the devices saved by an earlier enrollment
// (`Fleet.startSaved`, keys and certificates from disk, mutual TLS through the device SDK, each
// sending its profile's telemetry), reports progress over IPC, then holds the fleet until told
// to stop. Its resident memory is what `rss_per_device_kb` counts.
import { Fleet } from "../../packages/server/src/simulator/index.js";

interface Setup {
  readonly workDir: string;
  readonly apiUrl: string;
  readonly mqttUrl: string;
  readonly caPem: string;
  readonly devices: number;
  readonly concurrency: number;
}

const send = (message: unknown) => process.send?.(message);

function rssKb(): number {
  return Math.round(process.memoryUsage().rss / 1024);
}

async function main(setup: Setup): Promise<void> {
  const fleet = new Fleet({
    target: {
      apiUrl: setup.apiUrl,
      caPem: setup.caPem,
      mqttUrl: setup.mqttUrl,
      createTokens: () => Promise.reject(new Error("the benchmark's fleet does not enroll")),
    },
    workDir: setup.workDir,
    seed: 7,
    concurrency: setup.concurrency,
    // Benign oddities off: connected counts must not dip for a reboot during the measurement.
    oddities: { reboot: 0, blip: 0 },
    onProgress: (line) => send({ kind: "note", line }),
  });
  global.gc?.();
  const baselineKb = rssKb();
  const started = performance.now();
  const timer = setInterval(() => send({ kind: "progress", connected: fleet.stats().connected }), 5_000);
  const started_ = await fleet.startSaved(setup.devices);
  const connectMs = performance.now() - started;
  // Devices whose session dropped while others were still connecting (a keepalive missed on the
  // loaded machine) are reconnecting with back-off: give them a bounded time to come back, and
  // report both counts, so that "connected" means connected and holding.
  const settleUntil = performance.now() + 120_000;
  while (fleet.stats().connected < started_.length && performance.now() < settleUntil)
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  clearInterval(timer);
  const settleMs = performance.now() - started - connectMs;
  const stats = fleet.stats();
  send({
    kind: "connected",
    baselineKb,
    connectMs,
    settleMs,
    started: started_.length,
    connected: stats.connected,
    failures: stats.connectFailures,
    reconnects: stats.reconnects,
  });
  process.on("message", (m: { kind: string }) => {
    if (m.kind === "sample") {
      global.gc?.();
      const s = fleet.stats();
      send({
        kind: "sample",
        rssKb: rssKb(),
        connected: s.connected,
        sent: s.sent,
        completed: s.completed,
        failed: s.failed,
        reconnects: s.reconnects,
      });
    }
    if (m.kind === "stop")
      void fleet.stop().finally(() => {
        send({ kind: "stopped" });
        process.exit(0);
      });
  });
  send({ kind: "ready" });
}

process.once("message", (setup: Setup) => {
  main(setup).catch((error: unknown) => {
    send({ kind: "fatal", message: (error as Error).stack ?? String(error) });
    process.exit(1);
  });
});
