// Benchmark `audit-durability`: what it costs that an acknowledged operator action has its
// audit entry committed before the answer leaves (api/http-server.ts flushes the audit queue
// before replying to any request that may change state). Same Vigil, same run, two phases:
// the shipped behaviour, and the same server with that flush bypassed (the audit log then
// writes behind by up to 20 ms, as before the change).
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Platform, loadConfig } from "../packages/server/src/app/index.js";
import { createRootLogger } from "../packages/server/src/core/index.js";
import { totpCode } from "../packages/server/src/identity/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";

export const title = "audit entry durable before the answer: POST /api/v1/devices with and without the flush";

export const about = `Request rate and latency of \`POST /api/v1/devices\` (register a device: one SQLite insert, a
\`device.registered\` signal, its audit entry) on a real, in-process Vigil over HTTPS with keep-alive, \`--connections\`
clients each sending its next request as soon as the last one is answered, every body a new device id.

- **durable** (shipped): before the reply leaves, the \`onSend\` hook awaits \`audit.commit()\`: the request's
  audit entry (and whatever else is queued) is committed; the requests answered in one event-loop turn share one
  SQLite transaction (group commit, made right after the turn).
- **write-behind**: the same server, with \`audit.commit\` replaced by a no-op for the phase: entries are written
  by the audit log's 20 ms timer, after the reply (a kill -9 in between loses an acknowledged action's entry,
  as test/reliability/crash-loop.test.ts showed).

The load generator runs in the server's process (one event loop for both), the same for both phases.`;

export function budgetSeconds(options: { duration: number }): number {
  return 90 + 4 * options.duration;
}

const NEW_PASSWORD = "bench-password-0123456789";

async function adminToken(platform: Platform, initial: { username: string; password: string }): Promise<string> {
  const issued = await platform.operators.login({ username: initial.username, password: initial.password, remote: "bench" });
  const principal = await platform.operators.authenticate(issued.token);
  await platform.operators.changePassword(principal, initial.password, NEW_PASSWORD);
  if (issued.mfaEnrollmentRequired) {
    const { secret } = await platform.operators.startTotpEnrolment(principal);
    await platform.operators.confirmTotpEnrolment(principal, await totpCode(secret, Date.now()));
  }
  return issued.token;
}

interface Phase {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(platform: Platform, token: string, label: string, seconds: number, connections: number): Promise<Phase> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections, ca: platform.ca });
  const url = new URL("/api/v1/devices", platform.url);
  const latencies: number[] = [];
  let errors = 0;
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const one = (id: string) =>
    new Promise<number>((resolve, reject) => {
      const body = Buffer.from(JSON.stringify({ id, profile: "plc" }));
      const req = request(
        url,
        {
          method: "POST",
          agent,
          servername: "",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "content-length": String(body.length),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        const status = await one(`${label}-${n++}`).catch(() => 0);
        if (status !== 201) errors++;
        else latencies.push(performance.now() - started);
      }
    }),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 100) / 100;
  return { rps: Math.round(latencies.length / seconds), p50: at(0.5), p99: at(0.99), errors };
}

export async function run({ duration, connections, progress, signal }: BenchOptions): Promise<BenchOutput> {
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-audit-"));
  let platform: Platform | undefined;
  try {
    let initial: { username: string; password: string } | undefined;
    platform = await progress.phase("start Vigil (fresh data dir)", async () => {
      const config = await loadConfig({
        env: {},
        cwd: tmp,
        flags: { "data-dir": join(tmp, "data"), "http-host": "127.0.0.1", "http-port": "0", "log-level": "error" },
      });
      const started = new Platform({
        config,
        log: createRootLogger({ level: "error", destination: process.stderr }),
        processMetrics: false,
        onInitialPassword: (c) => (initial = c),
      });
      await started.start();
      return started;
    });
    if (initial === undefined) throw new Error("no initial admin password");
    const token = await adminToken(platform, initial);
    const p = platform;
    signal.throwIfAborted();
    await progress.phase("warm-up", () => load(p, token, "warm", 2, connections));
    const durable = await progress.phase(
      "measure durable (commit before reply)",
      () => load(p, token, "durable", duration, connections),
      {
        expectSeconds: duration,
        summary: (r) => `${r.rps} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.errors} errors`,
      },
    );
    signal.throwIfAborted();
    const audit = p.audit;
    Object.defineProperty(audit, "commit", { value: () => Promise.resolve(), configurable: true });
    const behind = await progress.phase(
      "measure write-behind (commit bypassed)",
      () => load(p, token, "behind", duration, connections),
      {
        expectSeconds: duration,
        summary: (r) => `${r.rps} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.errors} errors`,
      },
    );
    Reflect.deleteProperty(audit, "commit");
    if (durable.errors + behind.errors > 0) throw new Error(`${durable.errors + behind.errors} requests were not answered 201`);
    return {
      figures: {
        durable_rps: durable.rps,
        durable_p50_ms: durable.p50,
        durable_p99_ms: durable.p99,
        write_behind_rps: behind.rps,
        write_behind_p50_ms: behind.p50,
        write_behind_p99_ms: behind.p99,
      },
      ratios: { rps_ratio: durable.rps / behind.rps, p99_speed_ratio: behind.p99 / durable.p99 },
    };
  } finally {
    await platform?.stop("benchmark finished").catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}
