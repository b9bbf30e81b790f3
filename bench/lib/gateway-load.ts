// The gateway load generator shared by `bench/gateway.ts` and the gateway part of
// `bench/detection.ts`: a worker thread (bench/gateway-worker.mjs) of N publishers and one
// subscriber over mutual TLS, and the permissive profile their devices enrol with.
import { Worker } from "node:worker_threads";
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
