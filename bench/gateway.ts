// Benchmark `gateway`: messages/s and delivery latency through (a) bare aedes over mutual TLS
// with no hooks, (b) Vigil's gateway with every check and the signal feed on, (c) Debian's
// Mosquitto 2 with TLS and an ACL file — same machine, same run, same load.
import { Aedes } from "aedes";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import type { DeviceCredentials } from "../packages/device-sdk/src/index.js";
import type { Platform } from "../packages/server/src/app/index.js";
import { moduleLogger } from "../packages/server/src/core/index.js";
import { Gateway } from "../packages/server/src/gateway/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";
import { BENCH_PROFILE, driveGateway, enrollLoadDevices, type LoadResult } from "./lib/gateway-load.js";
import { freePort, listening } from "./lib/net.js";
import { startBenchVigil } from "./lib/vigil.js";

export const title = "MQTT gateway: Vigil (every check on) vs bare aedes vs Mosquitto 2, mutual TLS, QoS 0 and 1";

const DEVICES = 100;
const WINDOW = 10;
const PAYLOAD = 64;
const WARMUP_SECONDS = 2;

export const about = `${DEVICES} devices publish ${PAYLOAD}-byte payloads on \`devices/<id>/telemetry\` to one subscriber
(\`devices/+/telemetry\`), every client over **mutual TLS** with a certificate from Vigil's issuing CA, all on
loopback. The load generator (MQTT.js, one worker thread) runs a closed loop: each device keeps at most ${WINDOW}
messages between its PUBLISH and their delivery, so latency (publish -> delivery, same clock) is measured at the
rate the broker sustains. ${WARMUP_SECONDS} s of warm-up, then \`--duration\` seconds measured, per broker and QoS.

- **aedes**: \`aedes\` 1.2 with no hooks behind \`node:tls\` (client certificate required, \`noDelay\`), in this process.
- **Vigil**: the gateway as it runs in \`vigil up\`, in this process: CONNECT checks (certificate in the store,
  not revoked, client id = device id), the policy and token bucket on every PUBLISH, the bounded read loop, the
  subscriber authorised as a service; the platform's audit log records every signal. The devices' profile allows
  10,000 msg/s each, so nothing is throttled.
- **Mosquitto**: Debian's \`mosquitto\` 2 in its own process, \`require_certificate\`, \`use_identity_as_username\`,
  an ACL file (\`pattern write devices/%u/telemetry\`, the subscriber may read \`devices/+/telemetry\`).
- Ratios are Vigil / other in messages per second (goal: >= 0.9 against aedes).`;

export function budgetSeconds(options: { duration: number }): number {
  return 150 + 6 * (options.duration + WARMUP_SECONDS + 8);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function run({ duration, progress, signal }: BenchOptions): Promise<BenchOutput> {
  const hasMosquitto = spawnSync("sh", ["-c", "command -v mosquitto"]).status === 0;
  if (!hasMosquitto) throw new Error("mosquitto is not installed (apt-get install mosquitto)");
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-gateway-"));
  let platform: Platform | undefined;
  let gateway: Gateway | undefined;
  let bare: { server: Server; broker: Aedes } | undefined;
  let mosquitto: ChildProcess | undefined;
  try {
    platform = await progress.phase("start Vigil (fresh data dir, audit on, gateway off)", async () => {
      return startBenchVigil(tmp, { "mqtt-enabled": "false" });
    });
    const p = platform;
    const identities = await progress.phase(`enroll ${DEVICES} devices and a subscriber over EST`, () =>
      enrollLoadDevices(p, tmp, "bench", DEVICES),
    );
    signal.throwIfAborted();
    const toIdentity = (c: DeviceCredentials) => ({ id: c.deviceId, cert: c.certPem, key: c.keyPem });
    const devices = identities.slice(0, DEVICES).map(toIdentity);
    const collector = toIdentity(identities[DEVICES]!);
    const serverTls = await p.authority.issueServer([], []);

    // (a) bare aedes over mutual TLS
    const broker = await Aedes.createBroker();
    const server = createServer(
      {
        cert: serverTls.chainPem,
        key: serverTls.keyPem,
        ca: [p.authority.issuingPem, p.authority.rootPem],
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
        noDelay: true,
      },
      (socket) => {
        socket.setNoDelay(true);
        broker.handle(socket);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    bare = { server, broker };
    const aedesUrl = `mqtts://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // (b) Vigil
    gateway = new Gateway({
      settings: {
        host: "127.0.0.1",
        port: 0,
        handshakeTimeoutMs: 10_000,
        connectTimeoutMs: 10_000,
        maxConnectionsPerSource: 1000,
        throttleDropsBeforeDisconnect: 1000,
      },
      ca: p.authority,
      devices: p.store.devices,
      certificates: p.store.certificates,
      bus: p.bus,
      clock: p.clock,
      log: moduleLogger(p.log, "gateway"),
      profiles: () => BENCH_PROFILE,
      services: new Map([["collector", ["devices/+/telemetry"]]]),
    });
    await gateway.start();

    // (c) Mosquitto 2, its own process, TLS + ACL
    const mosquittoPort = await freePort();
    const files = {
      ca: join(tmp, "mq-ca.pem"),
      cert: join(tmp, "mq-server.pem"),
      key: join(tmp, "mq-server.key"),
      acl: join(tmp, "mq.acl"),
      conf: join(tmp, "mq.conf"),
    };
    await writeFile(files.ca, p.authority.issuingPem + p.authority.rootPem);
    await writeFile(files.cert, serverTls.chainPem);
    await writeFile(files.key, serverTls.keyPem, { mode: 0o600 });
    await writeFile(files.acl, "pattern write devices/%u/telemetry\n\nuser collector\ntopic read devices/+/telemetry\n");
    await writeFile(
      files.conf,
      [
        `user ${userInfo().username}`,
        "per_listener_settings false",
        "persistence false",
        "log_dest stderr",
        "log_type error",
        "max_queued_messages 100000",
        `listener ${mosquittoPort} 127.0.0.1`,
        `cafile ${files.ca}`,
        `certfile ${files.cert}`,
        `keyfile ${files.key}`,
        "require_certificate true",
        "use_identity_as_username true",
        "tls_version tlsv1.2",
        `acl_file ${files.acl}`,
        "",
      ].join("\n"),
    );
    await chmod(tmp, 0o700);
    mosquitto = spawn("mosquitto", ["-c", files.conf], { stdio: ["ignore", "ignore", "pipe"] });
    let mosquittoLog = "";
    mosquitto.stderr?.on("data", (c: Buffer) => (mosquittoLog += c.toString()));
    await listening(mosquittoPort).catch((error: Error) => {
      throw new Error(`${error.message}; mosquitto said: ${mosquittoLog.slice(0, 500)}`);
    });
    const mosquittoVersion = spawnSync("mosquitto", ["-h"], { encoding: "utf8" }).stdout.split("\n")[0] ?? "";
    progress.note(
      `${mosquittoVersion.trim()} on ${mosquittoPort}; aedes ${(broker as unknown as { version: string }).version}; Vigil ${gateway.url}`,
    );

    const results: Record<string, LoadResult> = {};
    const common = {
      ca: p.ca,
      devices,
      collector,
      seconds: duration,
      warmupSeconds: WARMUP_SECONDS,
      window: WINDOW,
      payloadBytes: PAYLOAD,
      maxSamples: 200_000,
    };
    for (const qos of [0, 1] as const) {
      for (const [name, url] of [
        ["aedes", aedesUrl],
        ["vigil", gateway.url],
        ["mosquitto", `mqtts://127.0.0.1:${mosquittoPort}`],
      ] as const) {
        signal.throwIfAborted();
        results[`${name}_qos${qos}`] = await progress.phase(
          `${name}, QoS ${qos}: ${DEVICES} publishers -> 1 subscriber`,
          () => driveGateway({ ...common, url, qos }, signal),
          { expectSeconds: duration + WARMUP_SECONDS + 3, summary: (r) => `${(r.delivered / r.seconds).toFixed(0)} msg/s` },
        );
      }
    }
    const figures: Record<string, number> = {};
    const rate = (key: string) => results[key]!.delivered / results[key]!.seconds;
    for (const [key, r] of Object.entries(results)) {
      if (r.delivered === 0) throw new Error(`${key}: nothing delivered (${r.errors.join(" | ")})`);
      const sorted = [...r.latencies].sort((a, b) => a - b);
      figures[`${key}_msgs_per_s`] = Math.round(rate(key));
      figures[`${key}_p50_ms`] = Number(percentile(sorted, 50).toFixed(3));
      figures[`${key}_p99_ms`] = Number(percentile(sorted, 99).toFixed(3));
      if (r.errors.length > 0) progress.note(`${key}: ${r.errors.join(" | ")}`);
    }
    figures.devices = DEVICES;
    figures.window_per_device = WINDOW;
    figures.payload_bytes = PAYLOAD;
    figures.audit_entries = await p.store.audit.count();
    const ratio = (a: string, b: string) => Number((rate(a) / rate(b)).toFixed(3));
    return {
      figures,
      ratios: {
        vigil_vs_aedes_qos0: ratio("vigil_qos0", "aedes_qos0"),
        vigil_vs_aedes_qos1: ratio("vigil_qos1", "aedes_qos1"),
        vigil_vs_mosquitto_qos0: ratio("vigil_qos0", "mosquitto_qos0"),
        vigil_vs_mosquitto_qos1: ratio("vigil_qos1", "mosquitto_qos1"),
      },
    };
  } finally {
    mosquitto?.kill("SIGTERM");
    await gateway?.stop();
    if (bare !== undefined) {
      const b = bare;
      await new Promise<void>((resolve) => b.broker.close(() => resolve()));
      await new Promise<void>((resolve) => b.server.close(() => resolve()));
    }
    await platform?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
