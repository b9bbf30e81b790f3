import autocannon from "autocannon";
import { request } from "node:https";

export type LoadResult = autocannon.Result;

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  /** Seconds. */
  readonly duration: number;
  readonly headers?: Record<string, string>;
  readonly title?: string;
}

/**
 * Drives HTTP(S) load with autocannon from a worker thread, so that the load generator does
 * not share the event loop of a server running in this process. Settles when the duration
 * is over, or rejects as soon as `signal` aborts.
 *
 * autocannon 8 connects with `rejectUnauthorized: false` whatever `tlsOptions` say
 * (lib/httpClient.js), so it cannot verify certificates: check a target with
 * `verifiedGet` before loading it.
 */
export async function runLoad(options: LoadOptions, signal: AbortSignal): Promise<LoadResult> {
  signal.throwIfAborted();
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.duration,
    workers: 1,
    timeout: 10,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.title ? { title: options.title } : {}),
  });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      instance.stop();
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([Promise.resolve(instance), aborted]);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

/** One HTTPS GET that verifies the server certificate against `ca` (and its name/IP). */
export function verifiedGet(
  url: string,
  ca: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return verifiedRequest(url, ca, { method: "GET", headers });
}

/** One HTTPS request that verifies the server certificate against `ca`; a JSON body when given. */
export function verifiedRequest(
  url: string,
  ca: string,
  options: { method: string; headers?: Record<string, string>; json?: unknown },
): Promise<{ status: number; body: string }> {
  const payload = options.json === undefined ? undefined : Buffer.from(JSON.stringify(options.json));
  const headers = {
    ...options.headers,
    ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method, ca, headers, agent: false, rejectUnauthorized: true, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${options.method} ${url} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Non-2xx responses and socket errors/timeouts of a run. */
export function failures(result: LoadResult): number {
  return result.non2xx + result.errors;
}

/** `200 x 51234, 401 x 3` */
export function statusSummary(result: LoadResult): string {
  const codes = Object.entries(result.statusCodeStats).map(([code, { count }]) => `${code} x ${count}`);
  return codes.length > 0 ? codes.join(", ") : "no responses";
}
