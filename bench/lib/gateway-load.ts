// The gateway load generator shared by `bench/gateway.ts` and the gateway part of
// `bench/detection.ts`: a worker thread (bench/gateway-worker.mjs) of N publishers and one
// subscriber over mutual TLS, and the permissive profile their devices enrol with.
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { enroll, type DeviceCredentials } from "../../packages/device-sdk/src/index.js";
import type { Platform } from "../../packages/server/src/app/index.js";
import { parseProfile } from "../../packages/server/src/policy/index.js";

/** Benchmark devices: a generous rate so that nothing is throttled. */
export const BENCH_PROFILE = parseProfile(
  [
    "id: bench-sensor",
    "description: Benchmark device; generous rate so that nothing is throttled.",
    "vertical: generic",
    "safetyCritical: false",
    'publish: ["devices/{device}/telemetry"]',
    'subscribe: ["devices/{device}/config"]',
    "maxMessagesPerSecond: 10000",
    "burst: 100000",
    "maxPayloadBytes: 1024",
    "maxQos: 1",
    "retainAllowed: false",
    "sensitivePayload: false",
  ].join("\n"),
);

export interface LoadResult {
  delivered: number;
  sent: number;
  seconds: number;
  latencies: number[];
  errors: string[];
}

/**
 * Runs one load phase in a worker; `data` is the worker's settings (see gateway-worker.mjs),
 * `payloadKind: "json"` sends JSON telemetry instead of binary filler.
 */
export function driveGateway(data: Record<string, unknown>, signal: AbortSignal): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("../gateway-worker.mjs", import.meta.url), { workerData: data });
    const abort = () => void worker.terminate().then(() => reject(new Error("aborted")));
    signal.addEventListener("abort", abort, { once: true });
    worker.once("message", (m: LoadResult) => {
      signal.removeEventListener("abort", abort);
      void worker.terminate();
      resolve(m);
    });
    worker.once("error", reject);
  });
}

/**
 * Enrolls `count` publishers (`<prefix>-000`, ...) and one subscriber (`collector`) of the
 * environmental-sensor profile over EST with claim tokens, ten at a time; keys under `dir/devices`.
 */
export async function enrollLoadDevices(
  platform: Platform,
  dir: string,
  prefix: string,
  count: number,
): Promise<DeviceCredentials[]> {
  const { tokens } = await platform.enrollment.createTokens({
    profile: "environmental-sensor",
    ttlSeconds: 600,
    count: count + 1,
    by: "bench",
  });
  const ids = [...Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, "0")}`), "collector"];
  const out: DeviceCredentials[] = [];
  for (let i = 0; i < ids.length; i += 10)
    out.push(
      ...(await Promise.all(
        ids.slice(i, i + 10).map((id, j) =>
          enroll({
            server: platform.url,
            caPem: platform.ca,
            deviceId: id,
            dir: join(dir, "devices", id),
            attestation: { kind: "claim-token", token: tokens[i + j]! },
          }),
        ),
      )),
    );
  return out;
}
