import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { enroll, type DeviceCredentials } from "../../../device-sdk/src/index.js";
import { callApi, type ApiTarget } from "../../src/cli/client.js";
import { firstLogin, freePort, startDaemon, waitForExit } from "../support.js";
import { rssKiB } from "./fuzz-support.js";

/** A `vigil up` child process on fixed free ports, with a logged-in admin (MFA done). */
export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly dataDir: string;
  readonly apiPort: number;
  readonly mqttPort: number;
  readonly anonymous: ApiTarget;
  admin: ApiTarget;
  readonly stderr: () => string;
  readonly stdout: () => string;
  /** The gateway's URL for MQTT.js. */
  readonly mqttUrl: string;
  /** True while the process runs and `/healthz` answers 200 within `timeoutMs`. */
  healthy(timeoutMs?: number): Promise<boolean>;
  rssKiB(): number | undefined;
  /** V8 heap in use (MiB) from the daemon's `/metrics`; null when it does not answer. */
  heapUsedMiB(): Promise<number | null>;
  /** SIGTERM and wait for a clean exit; returns the exit code. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

export interface DaemonOptions {
  readonly dataDir: string;
  readonly apiPort?: number;
  readonly mqttPort?: number;
  /** Extra `vigil up` flags, e.g. ["--mqtt-max-connections-per-source", "10000"]. */
  readonly flags?: readonly string[];
  /** An admin token from an earlier run on the same data dir (tokens survive restarts). */
  readonly token?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export const ADMIN_PASSWORD = "reliability passphrase 1";

/** Starts `vigil up`; on the first start of a data dir, logs the admin in (password change + TOTP). */
export async function launchDaemon(options: DaemonOptions): Promise<Daemon & { recoveryCodes: string[] }> {
  const apiPort = options.apiPort ?? (await freePort());
  const mqttPort = options.mqttPort ?? (await freePort());
  const daemon = await startDaemon(
    [
      "--data-dir",
      options.dataDir,
      "--http-host",
      "127.0.0.1",
      "--http-port",
      String(apiPort),
      "--mqtt-port",
      String(mqttPort),
      "--log-level",
      "error",
      ...(options.flags ?? []),
    ],
    { timeoutMs: 90_000, ...(options.env ? { env: options.env } : {}) },
  );
  const child = daemon.child;
  let anonymous: ApiTarget;
  let token = options.token;
  let recoveryCodes: string[] = [];
  try {
    anonymous = { url: daemon.url, ca: readFileSync(daemon.caFile, "utf8") };
    if (daemon.password !== undefined) {
      const first = await firstLogin(anonymous, {
        username: "admin",
        oneTimePassword: daemon.password,
        newPassword: ADMIN_PASSWORD,
        now: Date.now,
      });
      token = first.token;
      recoveryCodes = first.recoveryCodes;
    }
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  const pid = child.pid as number;
  return {
    child,
    pid,
    dataDir: options.dataDir,
    apiPort,
    mqttPort,
    anonymous,
    admin: { ...anonymous, token },
    recoveryCodes,
    stderr: daemon.stderr,
    stdout: daemon.stdout,
    mqttUrl: `mqtts://127.0.0.1:${mqttPort}`,
    async healthy(timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return false;
      const answer = callApi(anonymous, "GET", "/healthz").then(
        (r) => r.status === 200,
        () => false,
      );
      const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
      return Promise.race([answer, timeout]);
    },
    rssKiB: () => rssKiB(pid),
    async heapUsedMiB() {
      try {
        const { data } = await callApi<string>(anonymous, "GET", "/metrics");
        const m = /^vigil_nodejs_heap_size_used_bytes (\S+)$/m.exec(String(data));
        return m ? Math.round((Number(m[1]) / 1024 / 1024) * 10) / 10 : null;
      } catch {
        return null;
      }
    },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      return waitForExit(child, 60_000);
    },
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await waitForExit(child, 30_000);
    },
  };
}

/** Claim tokens for `profile`, minted by the admin through the API. */
export async function claimTokens(admin: ApiTarget, profile: string, count: number): Promise<string[]> {
  const { data } = await callApi<{ tokens: string[] }>(admin, "POST", "/api/v1/enrollment-tokens", {
    profile,
    ttlSeconds: 3_600,
    count,
  });
  return data.tokens;
}

/** A device enrolled over EST with a claim token through the device SDK. */
export function enrollWithToken(
  daemon: Pick<Daemon, "anonymous">,
  dir: string,
  deviceId: string,
  token: string,
): Promise<DeviceCredentials> {
  return enroll({
    server: daemon.anonymous.url,
    caPem: daemon.anonymous.ca as string,
    deviceId,
    dir: join(dir, deviceId),
    attestation: { kind: "claim-token", token },
    timeoutMs: 15_000,
  });
}
