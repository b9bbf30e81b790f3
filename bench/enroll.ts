// Benchmark `enroll`: zero-touch enrollments per second over EST with mutual TLS (factory
// certificate attestation), next to the ceiling: bare mutual-TLS handshakes per second of a
// minimal node:tls server with the same certificates and no work behind it.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { Worker } from "node:worker_threads";
import { Platform, loadConfig } from "../packages/server/src/app/index.js";
import { createRootLogger } from "../packages/server/src/core/index.js";
import type { BenchOptions, BenchOutput } from "./lib/benchmark.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const title = "zero-touch enrollment (EST, factory certificate over mutual TLS) vs bare mutual-TLS handshakes";

const PER_CONNECTION = 60;

export const about = `Enrollments per second and their latency for new devices on loopback, each a **fresh mutual-TLS
connection** (as real devices make), against the physical ceiling measured in the same run: a minimal \`node:tls\`
server with the same server certificate (P-256 from Vigil's issuing CA), the same TLS settings (TLS 1.2+, client
certificate requested) and no work behind the handshake.

- **Vigil, per enrollment**: TLS handshake with the device's factory certificate; HTTP parsing; the client chain
  checked against the registered manufacturer CA (signatures, validity); the CSR decoded, its self-signature
  verified, key type checked; device record looked up; a P-256 certificate issued and signed by the issuing CA;
  device + certificate stored in one SQLite transaction (WAL, group commit, \`store.synchronous\` default); \`enrollment.completed\` and
  \`identity.issued\` signals (recorded by the audit log); PKCS#7 certs-only response.
- **Ceiling, per connection**: the same handshake, then the same request bytes read and a fixed 200 answer.
- The load generator runs in a worker thread (the second core); both phases send the same pre-generated CSRs
  (EC P-256, unique device ids), each device with its own factory certificate, \`--connections\` at a time, ${PER_CONNECTION} operations per connection slot, bounded
  by \`--duration\`. The goal is enrollment rate >= 0.8 x the handshake rate.`;

export function budgetSeconds(options: { duration: number }): number {
  return 120 + 4 * options.duration;
}

interface WorkerResult {
  ok: number;
  attempted: number;
  seconds: number;
  latencies: number[];
  failures: string[];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function drive(data: Record<string, unknown>, signal: AbortSignal): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./enroll-worker.mjs", import.meta.url), { workerData: data });
    const abort = () => void worker.terminate().then(() => reject(new Error("aborted")));
    signal.addEventListener("abort", abort, { once: true });
    worker.once("message", (m: WorkerResult) => {
      signal.removeEventListener("abort", abort);
      resolve(m);
    });
    worker.once("error", reject);
  });
}

interface Item {
  body: string;
  cert: string;
  key: string;
}

/** Per device: its own key pair, CSR and factory certificate (one IDevID, one device). */
async function makeDevices(
  count: number,
  prefix: string,
  mfr: { cert: x509.X509Certificate; key: webcrypto.CryptoKey },
): Promise<Item[]> {
  const alg = { name: "ECDSA", namedCurve: "P-256" } as const;
  const out: Item[] = [];
  for (let i = 0; i < count; i++) {
    const factoryKeys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
    const factory = await x509.X509CertificateGenerator.create({
      serialNumber: (0x100000 + i).toString(16) + prefix.length.toString(16).padStart(2, "0"),
      subject: `CN=idevid-${prefix}-${i}`,
      issuer: mfr.cert.subject,
      notBefore: new Date(Date.now() - 3_600_000),
      notAfter: new Date(Date.now() + 30 * 86_400_000),
      publicKey: factoryKeys.publicKey as never,
      signingKey: mfr.key as never,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", factoryKeys.privateKey)).toString("base64");
    const factoryKeyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n`;
    const keys = await webcrypto.subtle.generateKey(alg, false, ["sign", "verify"]);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${prefix}-${i}`,
      keys: keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    });
    out.push({ body: Buffer.from(csr.rawData).toString("base64"), cert: factory.toString("pem"), key: factoryKeyPem });
  }
  return out;
}

export async function run({ duration, connections, progress, signal }: BenchOptions): Promise<BenchOutput> {
  const tmp = await mkdtemp(join(tmpdir(), "vigil-bench-enroll-"));
  let platform: Platform | undefined;
  let bare: Server | undefined;
  try {
    const count = connections * PER_CONNECTION;
    const mfr = await progress.phase("make a manufacturer CA", async () => {
      const keys = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: "01",
        name: "CN=Bench Manufacturing CA",
        notBefore: new Date(Date.now() - 86_400_000),
        notAfter: new Date(Date.now() + 30 * 86_400_000),
        keys: keys as never,
        signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
        ],
      });
      return { cert, key: keys.privateKey, pem: cert.toString("pem") };
    });
    const [bareItems, vigilItems] = await progress.phase(
      `pre-generate ${2 * count} devices (key, CSR, factory certificate)`,
      async () => [await makeDevices(count, "hs", mfr), await makeDevices(count, "dev", mfr)] as const,
      { expectSeconds: Math.round(count / 150) },
    );
    signal.throwIfAborted();

    platform = await progress.phase("start Vigil (fresh data dir), register the manufacturer", async () => {
      const config = await loadConfig({
        env: {},
        cwd: tmp,
        flags: { "data-dir": join(tmp, "data"), "http-port": "0", "log-level": "error" },
      });
      const p = new Platform({ config, log: createRootLogger({ level: "error" }), processMetrics: false });
      await p.start();
      await p.enrollment.addManufacturer({ name: "Bench Manufacturing", caPem: mfr.pem, by: "bench" });
      return p;
    });
    const vigilPort = Number(new URL(platform.url).port);
    const server = await platform.authority.issueServer([], []);
    bare = createServer(
      { cert: server.chainPem, key: server.keyPem, minVersion: "TLSv1.2", requestCert: true, rejectUnauthorized: false },
      (socket) => {
        let seen = "";
        socket.setEncoding("utf8");
        socket.on("data", (c: string) => {
          seen += c;
          const head = seen.indexOf("\r\n\r\n");
          if (head < 0) return;
          const length = Number(/content-length: (\d+)/i.exec(seen)?.[1] ?? 0);
          if (seen.length - head - 4 >= length) socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        });
        socket.on("error", () => undefined);
      },
    );
    await new Promise<void>((resolve) => bare!.listen(0, "127.0.0.1", resolve));
    const barePort = (bare.address() as AddressInfo).port;
    const common = { host: "127.0.0.1", ca: platform.ca, concurrency: connections };

    const ceiling = await progress.phase(
      `ceiling: ${count} bare mutual-TLS handshakes, ${connections} at a time`,
      () => drive({ ...common, mode: "bare", port: barePort, items: bareItems, deadline: Date.now() + duration * 1000 }, signal),
      { expectSeconds: duration, summary: (r) => `${(r.ok / r.seconds).toFixed(0)}/s` },
    );
    const vigil = await progress.phase(
      `Vigil: ${count} enrollments, ${connections} at a time`,
      () =>
        drive({ ...common, mode: "vigil", port: vigilPort, items: vigilItems, deadline: Date.now() + duration * 1000 }, signal),
      { expectSeconds: duration, summary: (r) => `${(r.ok / r.seconds).toFixed(0)}/s, ${r.attempted - r.ok} failed` },
    );
    if (vigil.ok === 0 || vigil.failures.length > 0) throw new Error(`enrollments failed: ${vigil.failures.join(" | ")}`);
    if (ceiling.failures.length > 0) throw new Error(`handshakes failed: ${ceiling.failures.join(" | ")}`);
    const stored = await platform.store.devices.count();
    if (stored !== vigil.ok) throw new Error(`${vigil.ok} enrollments answered 200 but ${stored} devices are stored`);

    const sortV = [...vigil.latencies].sort((a, b) => a - b);
    const sortB = [...ceiling.latencies].sort((a, b) => a - b);
    const enrollRate = vigil.ok / vigil.seconds;
    const handshakeRate = ceiling.ok / ceiling.seconds;
    const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
    return {
      figures: {
        enrollments: vigil.ok,
        enroll_per_s: round(enrollRate, 1),
        enroll_p50_ms: round(percentile(sortV, 50)),
        enroll_p99_ms: round(percentile(sortV, 99)),
        handshakes: ceiling.ok,
        handshake_per_s: round(handshakeRate, 1),
        handshake_p50_ms: round(percentile(sortB, 50)),
        handshake_p99_ms: round(percentile(sortB, 99)),
        concurrency: connections,
      },
      ratios: {
        enroll_vs_handshake: round(enrollRate / handshakeRate, 3),
        p99_speed_ratio: round(percentile(sortB, 99) / percentile(sortV, 99), 3),
      },
    };
  } finally {
    await new Promise<void>((resolve) => (bare ? bare.close(() => resolve()) : resolve()));
    await platform?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
