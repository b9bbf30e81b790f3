import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Writable } from "node:stream";
import { Platform, loadConfig } from "../src/app/index.js";
import { createRootLogger, type Clock, type Millis } from "../src/core/index.js";
import { callApi, type ApiTarget } from "../src/cli/client.js";
import { totpCode } from "../src/identity/index.js";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const tsxLoader = join(repoRoot, "node_modules/tsx/dist/esm/index.mjs");
export const cliMain = join(repoRoot, "packages/server/src/cli/main.ts");

export function tempDir(prefix = "vigil-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A logger that keeps every line in memory, so tests can assert on what was (not) logged. */
export function memoryLogger(level: "info" | "debug" | "warn" = "info") {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { log: createRootLogger({ level, destination }), lines };
}

/** Real time plus an offset a test can move forward (a TOTP code works once per 30 s step). */
export class OffsetClock implements Clock {
  #offset = 0;
  now(): Millis {
    return (Date.now() + this.#offset) as Millis;
  }
  advance(ms: number): void {
    this.#offset += ms;
  }
}

/** A clock the test support may move forward to get a fresh TOTP step. */
type AdvanceableClock = Clock & { advance(ms: number): void };

export interface TestPlatform {
  platform: Platform;
  dir: string;
  /** Target with a working admin token (one-time password changed, TOTP enrolled). */
  admin: ApiTarget;
  /** The admin's password after the change. */
  adminPassword: string;
  /** The admin's TOTP secret (base32) and its recovery codes, as shown at enrolment. */
  adminTotpSecret: string;
  adminRecoveryCodes: string[];
  anonymous: ApiTarget;
  logLines: string[];
  clock: AdvanceableClock;
  /** A fresh TOTP code of the admin: moves the platform's clock to the next 30 s step first. */
  totp(secret?: string): Promise<string>;
  /** Logs the admin in again (password + a fresh TOTP code); returns the token. */
  login(body?: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The first login of an operator through the API: one-time password, password change, TOTP
 * enrolment confirmed with a first code. Returns the now fully usable token.
 */
export async function firstLogin(
  anonymous: ApiTarget,
  input: { username: string; oneTimePassword: string; newPassword: string; now: () => number },
): Promise<{ token: string; totpSecret: string; recoveryCodes: string[] }> {
  const login = await callApi<{ token: string }>(anonymous, "POST", "/api/v1/auth/login", {
    username: input.username,
    password: input.oneTimePassword,
  });
  const target = { ...anonymous, token: login.data.token };
  await callApi(target, "POST", "/api/v1/auth/password", {
    currentPassword: input.oneTimePassword,
    newPassword: input.newPassword,
  });
  const enrol = await callApi<{ secret: string }>(target, "POST", "/api/v1/auth/mfa/totp");
  const confirmed = await callApi<{ recoveryCodes: string[] }>(target, "POST", "/api/v1/auth/mfa/totp/confirm", {
    code: await totpCode(enrol.data.secret, input.now()),
  });
  return { token: login.data.token, totpSecret: enrol.data.secret, recoveryCodes: confirmed.data.recoveryCodes };
}

/** Starts a real Vigil in this process (HTTPS on a free loopback port, SQLite in a temp dir). */
export async function startPlatform(
  options: { clock?: Clock; flags?: Record<string, string>; keepDir?: string } = {},
): Promise<TestPlatform> {
  const dir = options.keepDir ?? tempDir().path;
  const config = await loadConfig({
    env: {},
    cwd: dir,
    flags: { "data-dir": join(dir, "data"), "http-port": "0", "http-host": "127.0.0.1", ...options.flags },
  });
  const { log, lines } = memoryLogger();
  let initial: { username: string; password: string } | undefined;
  const given = options.clock as Partial<AdvanceableClock> | undefined;
  // A clock of the test's own that cannot be moved: a fresh TOTP step then means waiting for it.
  const clock: AdvanceableClock =
    given === undefined
      ? new OffsetClock()
      : typeof given.advance === "function"
        ? (given as AdvanceableClock)
        : { now: () => (given as Clock).now(), advance: () => undefined };
  const platform = new Platform({
    config,
    log,
    processMetrics: false,
    clock,
    onInitialPassword: (c) => {
      initial = c;
    },
  });
  await platform.start();
  const anonymous: ApiTarget = { url: platform.url, ca: platform.ca };
  const adminPassword = "correct horse battery staple";
  let admin: ApiTarget = anonymous;
  let adminTotpSecret = "";
  let adminRecoveryCodes: string[] = [];
  if (initial !== undefined) {
    const first = await firstLogin(anonymous, {
      username: "admin",
      oneTimePassword: initial.password,
      newPassword: adminPassword,
      now: () => clock.now(),
    });
    admin = { ...anonymous, token: first.token };
    adminTotpSecret = first.totpSecret;
    adminRecoveryCodes = first.recoveryCodes;
  }
  let lastStep = Math.floor(clock.now() / 30_000);
  const totp = async (secret = adminTotpSecret) => {
    clock.advance(30_000);
    while (Math.floor(clock.now() / 30_000) <= lastStep) await new Promise((r) => setTimeout(r, 250));
    lastStep = Math.floor(clock.now() / 30_000);
    return totpCode(secret, clock.now());
  };
  return {
    platform,
    dir,
    admin,
    adminPassword,
    adminTotpSecret,
    adminRecoveryCodes,
    anonymous,
    clock,
    totp,
    login: async (body = {}) =>
      (
        await callApi<{ token: string }>(anonymous, "POST", "/api/v1/auth/login", {
          username: "admin",
          password: adminPassword,
          totp: await totp(),
          ...body,
        })
      ).data.token,
    logLines: lines,
    stop: async () => {
      await platform.stop("test done");
      if (options.keepDir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `vigil` CLI (from source) as a child process and waits for it. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(options.input ?? "");
  });
}

export function spawnCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {},
): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...cleanEnv(), ...options.env };
  return spawn(process.execPath, ["--conditions=vigil-source", "--import", `file://${tsxLoader}`, cliMain, ...args], {
    cwd: options.cwd ?? repoRoot,
    env,
    stdio: ["pipe", "pipe", "pipe"],
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
  });
}

/** The environment without VIGIL_* settings that would leak into a child's configuration. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("VIGIL_") && !k.startsWith("NODE_TEST")) env[k] = v;
  env.NODE_NO_WARNINGS = "1";
  return env;
}

/** A `vigil up` child process that is ready (its banner printed) or failed. */
export async function startDaemon(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<{
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  url: string;
  caFile: string;
  password: string | undefined;
}> {
  const child = spawnCli(["up", ...args], options);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`vigil up did not become ready in time:\n${stderr}`)),
      options.timeoutMs ?? 60_000,
    );
    const check = () => {
      if (/Vigil .* is ready/.test(stderr) && /Data dir/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`vigil up exited with ${code}:\n${stderr}`));
    });
  });
  // Anchored to the banner's lines: a one-time password may end in "API" or "CA".
  const url = /^ {2}API\s+(\S+)/m.exec(stderr)?.[1] ?? "";
  const caFile = /^ {2}CA\s+(\S+)/m.exec(stderr)?.[1] ?? "";
  const password = /One-time password: (\S+)/.exec(stderr)?.[1];
  return { child, stdout: () => stdout, stderr: () => stderr, url, caFile, password };
}

export function waitForExit(child: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("process did not exit in time")), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** A free TCP port on loopback, found by binding port 0. */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/**
 * `vigil login` on a first login, as an operator would do it: the CLI prints the otpauth URI,
 * the "authenticator" (this helper) reads its secret and types the current code.
 */
export function cliFirstLogin(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliRun & { totpSecret: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(["login", ...args], options);
    let stdout = "";
    let stderr = "";
    let secret = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString();
      const found = /otpauth:\/\/totp\/\S*[?&]secret=([A-Z2-7]+)/.exec(stdout);
      if (found?.[1] !== undefined && secret === "") {
        secret = found[1];
        void totpCode(secret, Date.now()).then((code) => child.stdin?.end(`${code}\n`));
      }
    });
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, totpSecret: secret });
    });
  });
}
