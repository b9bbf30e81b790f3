// Benchmark `api`: request rate and latency of an authenticated read route of the real
// Vigil API against a bare fastify route, both HTTPS on 127.0.0.1 in this process.
import { fastify, type FastifyInstance } from "fastify";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Platform, loadConfig } from "../packages/server/src/app/index.js";
import { createRootLogger } from "../packages/server/src/core/index.js";
import { totpCode } from "../packages/server/src/identity/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";
import { failures, runLoad, statusSummary, verifiedGet, verifiedRequest, type LoadResult } from "./lib/load.js";

export const title = "authenticated device list (Vigil) vs a bare fastify route, HTTPS";

const WARMUP_SECONDS = 2;
const DEVICES = 100;
const PAGE = 20;
const VIGIL_PATH = `/api/v1/devices?limit=${PAGE}`;
const BARE_PATH = "/devices";
const NEW_PASSWORD = "bench-password-0123456789";

export const about = `Request rate and latency of \`GET ${VIGIL_PATH}\` on a real, in-process Vigil against a bare
\`fastify({ https })\` route \`GET ${BARE_PATH}\` in the same process. Vigil starts on a fresh data directory; the
bootstrap admin logs in, changes its one-time password, enrols TOTP and registers ${DEVICES} devices through
\`POST /api/v1/devices\` (all \`pending\`, no certificate yet); its bearer token is sent with every request.

- **Vigil, per request**: fastify routing; the \`onRequest\` auth hook (parse the bearer token, SQLite lookup
  of the token, SHA-256 of its secret compared in constant time, SQLite lookup of the operator, then role
  permission, scope, password-change and second-factor checks); zod validation of the query; the SQLite page
  query (\`LIMIT 21\`, restricted to the caller's sites) and the lookup of each listed device's newest
  certificate; rows to DTOs (ISO dates); zod response serialization; the \`onResponse\` metrics hook (a
  prom-client counter and histogram).
- **bare fastify, per request**: routing and \`JSON.stringify\` of a constant object; no hooks, no auth, no
  validation. The object is the body Vigil returned for the same page, so both send the same ${PAGE} devices,
  byte for byte.
- **Same for both**: HTTPS with the same kind of certificate (P-256, issued by Vigil's issuing CA through the
  call that makes Vigil's own API certificate, whose key stays sealed in Vigil's key vault), TLS 1.2+,
  HTTP/1.1 keep-alive, no pipelining, \`--connections\` connections. autocannon runs in a worker thread so that
  it does not share the servers' event loop, which leaves one core to the server under test on a 2-core
  machine. Each side gets a ${WARMUP_SECONDS} s warm-up, then the measured phase. Before loading either server one
  request verifies its certificate against Vigil's root CA (autocannon 8 connects without verifying). The run
  fails if any response is not 2xx: a benchmark of 401s would be meaningless.
- autocannon records latency at 1 ms resolution, so small p50/p99 values are coarse. The bare server's rate
  swings widely between runs on a shared VM (from about 10,000 to 20,000 req/s here): compare runs only
  when the machine line shows little CPU used by other processes.`;

export function budgetSeconds(options: { duration: number }): number {
  return 60 + 3 * 2 * (WARMUP_SECONDS + options.duration);
}

export async function run({ duration, connections, progress, signal }: BenchOptions): Promise<BenchOutput> {
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-api-"));
  let platform: Platform | undefined;
  let bare: FastifyInstance | undefined;
  try {
    const vigil = await progress.phase(
      "start Vigil (fresh data dir, TLS, admin login, seed devices)",
      async () => {
        const started = await startVigil(tmp);
        platform = started.platform;
        return started;
      },
      { summary: (v) => v.platform.url },
    );
    signal.throwIfAborted();

    const vigilUrl = `${vigil.platform.url}${VIGIL_PATH}`;
    const headers = { authorization: `Bearer ${vigil.token}` };
    const expected = await progress.phase(
      "check Vigil's route (verified TLS)",
      async () => {
        const res = await verifiedGet(vigilUrl, vigil.platform.ca, headers);
        if (res.status !== 200) throw new Error(`GET ${VIGIL_PATH} answered ${res.status}, not 200: ${res.body.slice(0, 300)}`);
        const body = JSON.parse(res.body) as { items?: unknown[] };
        if (body.items?.length !== PAGE)
          throw new Error(`GET ${VIGIL_PATH} returned ${body.items?.length ?? "no"} items, not ${PAGE}`);
        return res.body;
      },
      { summary: (b) => `200, ${Buffer.byteLength(b)} bytes of body` },
    );

    const bareUrl = await progress.phase(
      "start the bare fastify server",
      async () => {
        // Vigil keeps its API key sealed in its key vault, so the bare server gets a sibling:
        // a certificate from the same issuing CA, made by the call that makes Vigil's own.
        const { chainPem, keyPem } = await vigil.platform.authority.issueServer([], []);
        bare = startBare(chainPem, keyPem, JSON.parse(expected) as unknown);
        await bare.listen({ host: "127.0.0.1", port: 0 });
        const { port } = bare.server.address() as AddressInfo;
        const url = `https://127.0.0.1:${port}${BARE_PATH}`;
        const res = await verifiedGet(url, vigil.platform.ca);
        if (res.status !== 200 || res.body !== expected) {
          throw new Error(
            `the bare server's response differs from Vigil's (status ${res.status}, ${Buffer.byteLength(res.body)} vs ${Buffer.byteLength(expected)} bytes)`,
          );
        }
        return url;
      },
      { summary: (u) => `${u}, same body verified` },
    );
    signal.throwIfAborted();

    const load = (label: string, url: string, seconds: number, withHeaders: Record<string, string> | undefined) =>
      progress.phase(
        label,
        async () => {
          const result = await runLoad(
            { url, connections, duration: seconds, title: label, ...(withHeaders ? { headers: withHeaders } : {}) },
            signal,
          );
          requireAllOk(label, result);
          await sleep(250); // let the closed connections drain before the next phase
          return result;
        },
        {
          expectSeconds: seconds,
          summary: (r) =>
            `${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${statusSummary(r)}`,
        },
      );

    await load("warm-up Vigil", vigilUrl, WARMUP_SECONDS, headers);
    await load("warm-up bare fastify", bareUrl, WARMUP_SECONDS, undefined);
    const v = await load("measure Vigil", vigilUrl, duration, headers);
    const b = await load("measure bare fastify", bareUrl, duration, undefined);

    return {
      figures: {
        vigil_rps: v.requests.average,
        vigil_p50_ms: v.latency.p50,
        vigil_p99_ms: v.latency.p99,
        vigil_errors: failures(v),
        bare_fastify_rps: b.requests.average,
        bare_fastify_p50_ms: b.latency.p50,
        bare_fastify_p99_ms: b.latency.p99,
        bare_errors: failures(b),
      },
      ratios: {
        rps_ratio: v.requests.average / b.requests.average,
        p99_speed_ratio: b.latency.p99 / v.latency.p99,
      },
    };
  } finally {
    // Each step runs even when the one before fails; a failed cleanup warns, never hides the run's outcome.
    const cleanup = async (what: string, step: () => Promise<unknown>) =>
      step().catch((error: unknown) => progress.note(`warning: could not ${what}: ${(error as Error).message}`));
    await progress.phase("stop servers, remove the temp dir", async () => {
      await cleanup("stop the bare server", async () => bare?.close());
      await cleanup("stop Vigil", async () => platform?.stop("benchmark finished"));
      await cleanup(`remove ${tmp}`, () => rm(tmp, { recursive: true, force: true }));
    });
  }
}

interface StartedVigil {
  readonly platform: Platform;
  readonly token: string;
}

async function startVigil(tmp: string): Promise<StartedVigil> {
  const config = await loadConfig({
    env: {},
    cwd: tmp,
    flags: { "data-dir": join(tmp, "data"), "http-host": "127.0.0.1", "http-port": "0", "log-level": "error" },
  });
  let initial: { username: string; password: string } | undefined;
  const platform = new Platform({
    config,
    // Errors only, and on stderr: stdout carries the results.
    log: createRootLogger({ level: "error", destination: process.stderr }),
    processMetrics: false,
    onInitialPassword: (credentials) => {
      initial = credentials;
    },
  });
  try {
    await platform.start();
    if (initial === undefined) throw new Error("Vigil did not hand over the initial admin password on a fresh data dir");
    const issued = await platform.operators.login({ username: initial.username, password: initial.password, remote: "bench" });
    // The bootstrap admin must change its one-time password before other routes answer.
    const principal = await platform.operators.authenticate(issued.token);
    await platform.operators.changePassword(principal, initial.password, NEW_PASSWORD);
    // Admins need a second factor before anything else: enrol TOTP as an authenticator app
    // would (the code confirms it, and marks this token as opened with a second factor).
    if (issued.mfaEnrollmentRequired) {
      const { secret } = await platform.operators.startTotpEnrolment(principal);
      await platform.operators.confirmTotpEnrolment(principal, await totpCode(secret, Date.now()));
    }
    // Seeded through the API itself, as an operator would (POST /api/v1/devices).
    for (let i = 1; i <= DEVICES; i++) {
      const id = `bench-sensor-${String(i).padStart(4, "0")}`;
      const res = await verifiedRequest(`${platform.url}/api/v1/devices`, platform.ca, {
        method: "POST",
        headers: { authorization: `Bearer ${issued.token}` },
        json: { id, profile: i % 2 === 0 ? "temperature-sensor" : "smart-plug" },
      });
      if (res.status !== 201)
        throw new Error(`POST /api/v1/devices (${id}) answered ${res.status}, not 201: ${res.body.slice(0, 300)}`);
    }
    return { platform, token: issued.token };
  } catch (error) {
    await platform.stop("benchmark setup failed").catch(() => undefined);
    throw error;
  }
}

/** One route, a constant body, nothing else: the floor of what fastify over TLS costs. */
function startBare(cert: string, key: string, body: unknown): FastifyInstance {
  const app = fastify({ https: { cert, key, minVersion: "TLSv1.2" } }) as unknown as FastifyInstance;
  app.get(BARE_PATH, async () => body);
  return app;
}

/** A measurement of error responses says nothing about the route: refuse it loudly. */
function requireAllOk(label: string, result: LoadResult): void {
  if (result.non2xx > 0 || result["2xx"] === 0) {
    throw new Error(
      `${label}: ${result.non2xx} non-2xx responses of ${result["2xx"] + result.non2xx} (${statusSummary(result)}); the measurement is meaningless`,
    );
  }
  if (result.errors > 0) {
    process.stderr.write(`[api] warning: ${label}: ${result.errors} socket errors (${result.timeouts} timeouts)\n`);
  }
}
