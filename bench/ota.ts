// Benchmark `ota`: a staged update campaign to a 10,000-device fleet on loopback.
import { fork, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { OtaCommand } from "@vigil/contract";
import { Platform, loadConfig } from "../packages/server/src/app/index.js";
import { createRootLogger, type DeviceId, type Millis } from "../packages/server/src/core/index.js";
import { newDeviceRecord, type ValidCsr } from "../packages/server/src/identity/index.js";
import type { DeviceNotifier } from "../packages/server/src/ota/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";

const DEVICES = 10_000;
const IMAGE_BYTES = 64 * 1024;
const RESUME_EVERY = 10;
const FLEET_CONCURRENCY = 64;

export const title = "OTA campaign to 10,000 devices (signed metadata, mutual-TLS downloads with ranges, waves)";

export const about = `One campaign of a ${IMAGE_BYTES / 1024} KiB image to ${DEVICES.toLocaleString("en")} enrolled devices on loopback, from
\`start\` until every device reported a verified installation and the campaign completed: canary 1 %, waves of 25 %,
failure threshold 5 %, no rate limit to speak of (600,000/min).

- **Vigil (this process)**: the real platform (SQLite, audit log on, campaign engine, HTTPS API). Per device: the
  campaign state written before it is told; \`GET /ota/v1/metadata\` and \`GET /ota/v1/images/NAME\` over one mutual-TLS
  connection authenticated by the device's certificate (chain, store record, revocation); the image streamed from disk
  (a range for resumed downloads); 5 reports (downloading, verified, installing, installed) applied in batches; the
  device's firmware version updated; \`ota.installed\` signal (audited).
- **Simulated devices (a child process)**: the device SDK's real \`OtaAgent\` per device with its own certificate and
  key — root and targets signatures (Ed25519), expiry, manifest checks, SHA-256 and length — and A/B slots that only
  flip a bit; every ${RESUME_EVERY}th device starts from a half-downloaded image and resumes it with a range request.
  ${FLEET_CONCURRENCY} devices update at a time. **Not simulated over MQTT**: commands and reports travel over IPC through
  the campaign engine's \`DeviceNotifier\` port instead of 10,000 MQTT sessions (the gateway has its own benchmark).
- Device certificates are issued directly by the CA beforehand (not over EST) to keep set-up short.
- \`server_cpu_seconds\` and \`server_peak_rss_mb\` are this process's during the campaign (the fleet's are separate).`;

export function budgetSeconds(): number {
  return 900;
}

/** The control channel over IPC to the fleet process (in place of the MQTT gateway). */
class IpcNotifier implements DeviceNotifier {
  #handler: ((device: DeviceId, payload: Buffer) => void) | undefined;
  constructor(readonly child: ChildProcess) {
    child.on("message", (m: { kind: string; device?: string; report?: unknown }) => {
      if (m.kind === "ack" && m.device !== undefined)
        this.#handler?.(m.device as DeviceId, Buffer.from(JSON.stringify(m.report)));
    });
  }
  async send(device: DeviceId, command: OtaCommand): Promise<{ online: boolean }> {
    this.child.send({ kind: "command", device, command });
    return { online: true };
  }
  async onAck(handler: (device: DeviceId, payload: Buffer) => void) {
    this.#handler = handler;
    return async () => {
      this.#handler = undefined;
    };
  }
}

export async function run({ progress, signal }: BenchOptions): Promise<BenchOutput> {
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-ota-"));
  const child = fork(fileURLToPath(new URL("./lib/ota-fleet.ts", import.meta.url)), [], {
    execArgv: ["--conditions=vigil-source", "--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  const fatal = new Promise<never>((_, reject) => {
    child.on("message", (m: { kind: string; message?: string }) => {
      if (m.kind === "fatal") reject(new Error(`fleet failed: ${m.message}`));
    });
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`fleet exited with ${code}`));
    });
  });
  fatal.catch(() => undefined);
  const notifier = new IpcNotifier(child);
  let platform: Platform | undefined;
  try {
    platform = await progress.phase("start Vigil (fresh data dir)", async () => {
      const config = await loadConfig({
        env: {},
        cwd: tmp,
        flags: {
          "data-dir": join(tmp, "data"),
          "http-port": "0",
          "log-level": "error",
          "mqtt-enabled": "false",
          "ota-tick-ms": "100",
        },
      });
      const p = new Platform({ config, log: createRootLogger({ level: "error" }), processMetrics: false, otaNotifier: notifier });
      await p.start();
      return p;
    });
    const p = platform;
    const image = randomBytes(IMAGE_BYTES);
    await p.updates.keysInit("ed25519", "bench");
    await p.updates.addArtifact(image, { version: "1.1.0", profile: "smart-meter" }, "bench");

    const devices = await progress.phase(
      `enroll ${DEVICES} devices (keys, certificates from the issuing CA)`,
      async () => {
        const out: { id: string; certPem: string; keyPem: string }[] = [];
        for (let i = 0; i < DEVICES; i++) {
          signal.throwIfAborted();
          const id = `meter-${String(i).padStart(5, "0")}` as DeviceId;
          const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
          const spki = publicKey.export({ type: "spki", format: "der" });
          const csr: ValidCsr = {
            deviceId: id,
            subject: `CN=${id}`,
            keyType: "EC-P256",
            spki,
            keySha256: createHash("sha256").update(spki).digest("hex"),
          };
          const cert = await p.authority.issueDevice(csr, id, 30);
          const now = Date.now() as Millis;
          await p.store.enrollments.recordEnrollment({
            device: newDeviceRecord({
              id,
              createdAt: now,
              state: "active",
              profile: "smart-meter",
              firmwareVersion: "1.0.0",
              enrolledAt: now,
            }),
            completesPending: false,
            certificate: {
              serial: cert.serial,
              deviceId: id,
              subject: cert.subject,
              notBefore: cert.notBefore as Millis,
              notAfter: cert.notAfter as Millis,
              keySha256: csr.keySha256,
              pem: cert.pem,
              issuedAt: now,
              revokedAt: null,
              revocationReason: null,
            },
            tokenId: null,
            at: now,
          });
          out.push({ id, certPem: cert.pem, keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() });
        }
        return out;
      },
      { expectSeconds: 20 },
    );

    await progress.phase(
      "start the simulated fleet (credentials on disk, one OtaAgent per device)",
      () =>
        Promise.race([
          fatal,
          new Promise<void>((resolve) => {
            child.on("message", (m: { kind: string }) => m.kind === "ready" && resolve());
            child.send({
              server: p.url,
              dir: join(tmp, "fleet"),
              caPem: p.ca,
              devices,
              concurrency: FLEET_CONCURRENCY,
              resumeEvery: RESUME_EVERY,
              partial: {
                sha256: createHash("sha256").update(image).digest("hex"),
                bytes: image.subarray(0, IMAGE_BYTES / 2).toString("base64"),
              },
            });
          }),
        ]),
      { expectSeconds: 15 },
    );

    const campaign = await p.campaigns.create(
      {
        name: "bench",
        artifact: "smart-meter-1.1.0",
        target: { profile: "smart-meter" },
        canaryPercent: 1,
        wavePercent: 25,
        failureThresholdPercent: 5,
        maxPerMinute: 600_000,
      },
      "bench",
    );
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const cpuFrom = process.cpuUsage();
    const startedAt = performance.now();
    const status = await progress.phase(
      `campaign: ${DEVICES} devices, ${campaign.waves} waves`,
      async () => {
        await p.campaigns.startCampaign(campaign.id, "bench");
        for (;;) {
          signal.throwIfAborted();
          const s = await Promise.race([fatal, p.campaigns.status(campaign.id)]);
          if (s.state !== "running") return s;
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      { expectSeconds: 60, summary: (s) => `${s.state}: ${s.counts.installed} installed, ${s.counts.failed} failed` },
    );
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = process.cpuUsage(cpuFrom);
    clearInterval(sampler);
    if (status.state !== "completed") throw new Error(`campaign ended ${status.state}: ${status.haltReason ?? ""}`);
    const stored = await p.store.devices.get("meter-00000" as DeviceId);
    if (stored?.firmwareVersion !== "1.1.0") throw new Error("the store does not show the new firmware version");
    const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
    return {
      figures: {
        devices: DEVICES,
        devices_updated: status.counts.installed,
        devices_failed: status.counts.failed,
        campaign_seconds: round(seconds),
        updates_per_s: round(status.counts.installed / seconds, 1),
        server_cpu_seconds: round((cpu.user + cpu.system) / 1e6),
        server_peak_rss_mb: round(peakRss / 1048576, 1),
        image_bytes: IMAGE_BYTES,
        resumed_downloads: Math.ceil(DEVICES / RESUME_EVERY),
        waves: status.waves,
      },
      ratios: {},
    };
  } finally {
    if (child.connected) child.send({ kind: "stop" });
    setTimeout(() => child.kill("SIGKILL"), 2000).unref();
    await platform?.stop("bench done");
    await rm(tmp, { recursive: true, force: true });
  }
}
