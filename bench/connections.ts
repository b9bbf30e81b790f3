// Benchmark `connections`: how many idle mutual-TLS MQTT sessions one gateway holds, and the
// resident memory each costs — Vigil's gateway (in this process) and Mosquitto 2 (its own
// process), same identities, same client.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import type { Platform } from "../packages/server/src/app/index.js";
import { millis, moduleLogger, type DeviceId } from "../packages/server/src/core/index.js";
import { Gateway } from "../packages/server/src/gateway/index.js";
import { newDeviceRecord, parseCsr } from "../packages/server/src/identity/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";
import { freePort, listening } from "./lib/net.js";
import { startBenchVigil } from "./lib/vigil.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const DEFAULT_SESSIONS = 5000;
const sessionsWanted = (): number => {
  const raw = process.env.VIGIL_BENCH_SESSIONS;
  const n = raw === undefined ? DEFAULT_SESSIONS : Number(raw);
  if (!Number.isSafeInteger(n) || n < 10 || n > 1_000_000) throw new Error(`VIGIL_BENCH_SESSIONS must be 10-1000000, not ${raw}`);
  return n;
};

export const title = "idle mutual-TLS MQTT sessions held and resident memory per session: Vigil vs Mosquitto 2";

export const about = `Opens ${DEFAULT_SESSIONS} sessions by default (\`VIGIL_BENCH_SESSIONS=N\` for more; each side needs one file
descriptor per session, so \`ulimit -n\` must exceed N) of distinct devices, each a mutual-TLS connection with its own
certificate from Vigil's issuing CA and an MQTT 3.1.1 CONNECT (clean session, keepalive 0), then holds them idle.
The clients run in a separate process, so only the broker's memory is counted: for Vigil the growth of this process's
resident set (the platform and gateway, with every session authenticated against the store, its policy compiled and
its token buckets made), for Mosquitto the growth of its process's \`VmRSS\`, both measured 2 s after the last
CONNACK. \`--connections\` sets how many handshakes run at once (default 20). Devices are provisioned straight into
the store (one CSR, one certificate each), not over EST, to keep the set-up short.`;

export function budgetSeconds(): number {
  return 240 + Math.ceil(sessionsWanted() / 25);
}

interface ClientResult {
  ok: number;
  attempted: number;
  failures: string[];
}

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Opens the sessions from a child process; resolves when all are open, with the child kept alive. */
async function hold(
  configFile: string,
  progress: BenchOptions["progress"],
  signal: AbortSignal,
): Promise<{ child: ChildProcess; result: ClientResult }> {
  const child = fork(new URL("./connections-client.mjs", import.meta.url), [configFile], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const result = await new Promise<ClientResult>((resolve, reject) => {
    const abort = () => {
      child.kill("SIGKILL");
      reject(new Error("aborted"));
    };
    signal.addEventListener("abort", abort, { once: true });
    child.on("message", (m: { progress?: number; done?: boolean } & ClientResult) => {
      if (m.progress !== undefined) progress.note(`  ${m.progress} sessions open`);
      if (m.done === true) {
        signal.removeEventListener("abort", abort);
        resolve(m);
      }
    });
    child.once("exit", (code) => reject(new Error(`the client process exited with ${code}`)));
  });
  return { child, result };
}

async function release(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.send("close");
  await exited;
}

export async function run({ connections, progress, signal }: BenchOptions): Promise<BenchOutput> {
  const sessions = sessionsWanted();
  const limit = Number(spawnSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout.trim());
  if (Number.isFinite(limit) && limit < sessions + 200) {
    throw new Error(
      `ulimit -n is ${limit}: raise it above ${sessions + 200} (ulimit -n ${sessions * 2}) or lower VIGIL_BENCH_SESSIONS`,
    );
  }
  const hasMosquitto = spawnSync("sh", ["-c", "command -v mosquitto"]).status === 0;
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-connections-"));
  let platform: Platform | undefined;
  let gateway: Gateway | undefined;
  let mosquitto: ChildProcess | undefined;
  let clients: ChildProcess | undefined;
  try {
    platform = await progress.phase("start Vigil (fresh data dir, gateway off)", async () => {
      return startBenchVigil(tmp, { "mqtt-enabled": "false" });
    });
    const p = platform;
    const identities = await progress.phase(
      `provision ${sessions} devices (one key, one certificate each) into the store`,
      async () => {
        const keys = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
        const csr = await x509.Pkcs10CertificateRequestGenerator.create({
          name: "CN=bench",
          keys,
          signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
        });
        const valid = await parseCsr(Buffer.from(Buffer.from(csr.rawData).toString("base64")));
        const keyDer = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
        const keyPem = `-----BEGIN PRIVATE KEY-----\n${keyDer
          .toString("base64")
          .replace(/(.{64})/g, "$1\n")
          .replace(/\n$/, "")}\n-----END PRIVATE KEY-----\n`;
        const keySha256 = createHash("sha256")
          .update(Buffer.from(await webcrypto.subtle.exportKey("spki", keys.publicKey)))
          .digest("hex");
        const out: { id: string; cert: string; key: string }[] = [];
        for (let i = 0; i < sessions; i++) {
          signal.throwIfAborted();
          const id = `idle-${String(i).padStart(6, "0")}` as DeviceId;
          const issued = await p.authority.issueDevice(valid, id, 30);
          const now = millis(Date.now());
          await p.store.enrollments.recordEnrollment({
            device: newDeviceRecord({ id, createdAt: now, state: "active", profile: "environmental-sensor", enrolledAt: now }),
            completesPending: false,
            certificate: {
              serial: issued.serial,
              deviceId: id,
              subject: issued.subject,
              notBefore: millis(issued.notBefore),
              notAfter: millis(issued.notAfter),
              keySha256,
              pem: issued.pem,
              issuedAt: now,
              revokedAt: null,
              revocationReason: null,
            },
            tokenId: null,
            at: now,
          });
          out.push({ id, cert: issued.pem, key: keyPem });
        }
        return out;
      },
    );
    const configFor = async (name: string, port: number) => {
      const file = join(tmp, `${name}-clients.json`);
      await writeFile(
        file,
        JSON.stringify({ port, ca: p.ca, identities, concurrency: connections, deadline: Date.now() + 600_000 }),
      );
      return file;
    };

    // Vigil
    gateway = new Gateway({
      settings: {
        host: "127.0.0.1",
        port: 0,
        handshakeTimeoutMs: 30_000,
        connectTimeoutMs: 30_000,
        maxConnectionsPerSource: 1_000_000,
        throttleDropsBeforeDisconnect: 1000,
      },
      ca: p.authority,
      devices: p.store.devices,
      certificates: p.store.certificates,
      bus: p.bus,
      clock: p.clock,
      log: moduleLogger(p.log, "gateway"),
      profiles: () => undefined,
    });
    await gateway.start();
    const vigilFile = await configFor("vigil", gateway.port);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const vigilBefore = rssKb(process.pid);
    const vigilHeld = await progress.phase(
      `Vigil: open ${sessions} sessions, ${connections} handshakes at a time`,
      async () => {
        const held = await hold(vigilFile, progress, signal);
        clients = held.child;
        await new Promise((resolve) => setTimeout(resolve, 2000));
        return { ...held.result, sessions: gateway!.sessionCount, rss: rssKb(process.pid) };
      },
      { summary: (r) => `${r.sessions} held` },
    );
    if (clients !== undefined) await release(clients);
    clients = undefined;
    await gateway.stop();
    gateway = undefined;
    if (vigilHeld.failures.length > 0) progress.note(`Vigil failures: ${vigilHeld.failures.join(" | ")}`);

    const figures: Record<string, number> = {
      sessions_wanted: sessions,
      sessions_held: vigilHeld.sessions,
      rss_kb_per_session: Number(((vigilHeld.rss - vigilBefore) / Math.max(1, vigilHeld.sessions)).toFixed(1)),
      vigil_rss_growth_mb: Number(((vigilHeld.rss - vigilBefore) / 1024).toFixed(1)),
    };
    const ratios: Record<string, number> = {};

    if (hasMosquitto) {
      const port = await freePort();
      const issued = await p.authority.issueServer([], []);
      await writeFile(join(tmp, "mq-ca.pem"), p.authority.issuingPem + p.authority.rootPem);
      await writeFile(join(tmp, "mq-server.pem"), issued.chainPem);
      await writeFile(join(tmp, "mq-server.key"), issued.keyPem, { mode: 0o600 });
      await writeFile(
        join(tmp, "mq.conf"),
        [
          `user ${userInfo().username}`,
          "persistence false",
          "log_dest stderr",
          "log_type error",
          `listener ${port} 127.0.0.1`,
          `cafile ${join(tmp, "mq-ca.pem")}`,
          `certfile ${join(tmp, "mq-server.pem")}`,
          `keyfile ${join(tmp, "mq-server.key")}`,
          "require_certificate true",
          "use_identity_as_username true",
          "",
        ].join("\n"),
      );
      mosquitto = spawn("mosquitto", ["-c", join(tmp, "mq.conf")], { stdio: "ignore" });
      await listening(port);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const pid = mosquitto.pid as number;
      const before = rssKb(pid);
      const mqFile = await configFor("mosquitto", port);
      const held = await progress.phase(
        `Mosquitto: open ${sessions} sessions`,
        async () => {
          const h = await hold(mqFile, progress, signal);
          clients = h.child;
          await new Promise((resolve) => setTimeout(resolve, 2000));
          return { ...h.result, rss: rssKb(pid) };
        },
        { summary: (r) => `${r.ok} held` },
      );
      if (clients !== undefined) await release(clients);
      clients = undefined;
      figures.mosquitto_sessions_held = held.ok;
      figures.mosquitto_rss_kb_per_session = Number(((held.rss - before) / Math.max(1, held.ok)).toFixed(1));
      ratios.memory_per_session_vs_mosquitto = Number(
        (figures.mosquitto_rss_kb_per_session / figures.rss_kb_per_session!).toFixed(3),
      );
    } else {
      progress.note("mosquitto is not installed: Vigil only");
    }
    return { figures, ratios };
  } finally {
    clients?.kill("SIGKILL");
    mosquitto?.kill("SIGTERM");
    await gateway?.stop();
    await platform?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
