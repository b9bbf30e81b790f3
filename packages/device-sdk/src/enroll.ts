import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash, createPrivateKey, createPublicKey, webcrypto } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { isIP } from "node:net";
import { join } from "node:path";
import { DeviceSdkError } from "./server-probe.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** How the device proves it may enroll (see docs/identity.md). */
export type Attestation =
  | { readonly kind: "claim-token"; readonly token: string }
  | { readonly kind: "manufacturer"; readonly certPem: string; readonly keyPem: string }
  | { readonly kind: "pre-registered" };

export interface Posture {
  readonly profile?: string;
  readonly firmwareVersion?: string;
  readonly sbomRef?: string;
}

export interface EnrollOptions {
  /** Vigil's base URL, e.g. https://vigil.example:8443 */
  readonly server: string;
  /** The root CA the device was provisioned with (PEM): the only server identity it trusts. */
  readonly caPem: string;
  readonly deviceId: string;
  /** Where the device keeps its key (0600) and certificate. */
  readonly dir: string;
  readonly attestation: Attestation;
  readonly posture?: Posture;
  readonly curve?: "P-256" | "P-384";
  readonly timeoutMs?: number;
}

/** What a device holds after enrolling: its certificate, its key (never sent anywhere) and the CA. */
export interface DeviceCredentials {
  readonly deviceId: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const KEY_FILE = "device.key";
const CERT_FILE = "device.pem";
const CA_FILE = "ca.pem";

/**
 * The device's key pair, generated on the device and stored 0600 in `dir` (kept if it
 * already exists, so that a retried enrollment, or a pre-registered key, uses the same key).
 */
export async function ensureDeviceKey(dir: string, curve: "P-256" | "P-384" = "P-256"): Promise<string> {
  const file = join(dir, KEY_FILE);
  if (existsSync(file)) return readFile(file, "utf8");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pair = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"]);
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", pair.privateKey));
  const pem = `-----BEGIN PRIVATE KEY-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "")}\n-----END PRIVATE KEY-----\n`;
  await writeAtomic(file, pem, 0o600);
  return pem;
}

/** SHA-256 of the device's SubjectPublicKeyInfo (DER), hex: what an operator pre-registers. */
export function publicKeyFingerprint(keyPem: string): string {
  return createHash("sha256")
    .update(createPublicKey(keyPem).export({ format: "der", type: "spki" }))
    .digest("hex");
}

/** Enrolls over EST (RFC 7030 simpleenroll) and stores the certificate next to the key. */
export async function enroll(options: EnrollOptions): Promise<DeviceCredentials> {
  const keyPem = await ensureDeviceKey(options.dir, options.curve);
  const csr = await buildCsr(options.deviceId, keyPem);
  const headers: Record<string, string> = { "content-type": "application/pkcs10" };
  if (options.attestation.kind === "claim-token") {
    headers.authorization = `Basic ${Buffer.from(`${options.deviceId}:${options.attestation.token}`).toString("base64")}`;
  }
  if (options.posture !== undefined)
    headers["vigil-posture"] = Buffer.from(JSON.stringify(options.posture)).toString("base64url");
  const tls =
    options.attestation.kind === "manufacturer"
      ? { cert: options.attestation.certPem, key: options.attestation.keyPem }
      : undefined;
  const body = await estCall(
    options.server,
    options.caPem,
    "/.well-known/est/simpleenroll",
    csr,
    headers,
    tls,
    options.timeoutMs,
  );
  return store(options.dir, options.deviceId, keyPem, options.caPem, body);
}

/**
 * Renews the certificate (RFC 7030 simplereenroll) authenticated by the current one over
 * mutual TLS, keeping the same key and subject; stores and returns the new credentials.
 */
export async function renew(server: string, dir: string, options: { timeoutMs?: number } = {}): Promise<DeviceCredentials> {
  const current = await loadCredentials(dir);
  const csr = await buildCsr(current.deviceId, current.keyPem);
  const body = await estCall(
    server,
    current.caPem,
    "/.well-known/est/simplereenroll",
    csr,
    { "content-type": "application/pkcs10" },
    { cert: current.certPem, key: current.keyPem },
    options.timeoutMs,
  );
  return store(dir, current.deviceId, current.keyPem, current.caPem, body);
}

export async function loadCredentials(dir: string): Promise<DeviceCredentials> {
  let certPem: string;
  let keyPem: string;
  let caPem: string;
  try {
    [certPem, keyPem, caPem] = await Promise.all([
      readFile(join(dir, CERT_FILE), "utf8"),
      readFile(join(dir, KEY_FILE), "utf8"),
      readFile(join(dir, CA_FILE), "utf8"),
    ]);
  } catch (error) {
    throw new DeviceSdkError("SDK_NOT_ENROLLED", `no credentials in ${dir}: enroll first`, { cause: error });
  }
  const cert = new x509.X509Certificate(certPem);
  return {
    deviceId: cert.subjectName.getField("CN")[0] ?? "",
    certPem,
    keyPem,
    caPem,
    serial: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

/**
 * Keeps the certificate fresh: renews once two thirds of its lifetime have passed, retrying
 * with exponential backoff (capped) when the server is unreachable. Timers are unref'd.
 */
export class CertificateRenewer {
  readonly #server: string;
  readonly #dir: string;
  readonly #onRenewed: (credentials: DeviceCredentials) => void;
  readonly #onError: (error: unknown) => void;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(options: {
    server: string;
    dir: string;
    onRenewed?: (c: DeviceCredentials) => void;
    onError?: (e: unknown) => void;
    now?: () => number;
  }) {
    this.#server = options.server;
    this.#dir = options.dir;
    this.#onRenewed = options.onRenewed ?? (() => undefined);
    this.#onError = options.onError ?? (() => undefined);
    this.#now = options.now ?? Date.now;
  }

  /** When the renewal is due for these credentials (epoch ms). */
  static dueAt(credentials: Pick<DeviceCredentials, "notBefore" | "notAfter">): number {
    const start = credentials.notBefore.getTime();
    return start + ((credentials.notAfter.getTime() - start) * 2) / 3;
  }

  async start(): Promise<void> {
    this.#schedule(CertificateRenewer.dueAt(await loadCredentials(this.#dir)) - this.#now());
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Renews now (also what the timer calls). */
  async renewNow(): Promise<DeviceCredentials | undefined> {
    try {
      const renewed = await renew(this.#server, this.#dir);
      this.#failures = 0;
      this.#onRenewed(renewed);
      this.#schedule(CertificateRenewer.dueAt(renewed) - this.#now());
      return renewed;
    } catch (error) {
      this.#failures++;
      this.#onError(error);
      this.#schedule(Math.min(60_000 * 2 ** Math.min(this.#failures, 10), 6 * 3_600_000));
      return undefined;
    }
  }

  #schedule(delayMs: number): void {
    this.stop();
    // setTimeout holds at most ~24.8 days; longer waits re-arm on expiry.
    const delay = Math.max(0, Math.min(delayMs, 2 ** 31 - 1));
    this.#timer = setTimeout(() => {
      if (delayMs > delay) this.#schedule(delayMs - delay);
      else void this.renewNow();
    }, delay);
    this.#timer.unref();
  }
}

async function buildCsr(deviceId: string, keyPem: string): Promise<Buffer> {
  const key = createPrivateKey(keyPem);
  const curve = key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? "P-384" : "P-256";
  const alg = { name: "ECDSA", namedCurve: curve } as const;
  const privateKey = await webcrypto.subtle.importKey("pkcs8", key.export({ format: "der", type: "pkcs8" }), alg, false, [
    "sign",
  ]);
  const publicKey = await webcrypto.subtle.importKey(
    "spki",
    createPublicKey(key).export({ format: "der", type: "spki" }),
    alg,
    true,
    ["verify"],
  );
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${deviceId}`,
    keys: { privateKey, publicKey },
    signingAlgorithm: { name: "ECDSA", hash: curve === "P-384" ? "SHA-384" : "SHA-256" },
  });
  return Buffer.from(Buffer.from(csr.rawData).toString("base64"));
}

function estCall(
  server: string,
  caPem: string,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
  clientTls: { cert: string; key: string } | undefined,
  timeoutMs = 15_000,
): Promise<string> {
  const url = new URL(path, server);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        ca: caPem,
        servername: isIP(host) === 0 ? host : "",
        headers: { ...headers, "content-length": String(body.length) },
        timeout: timeoutMs,
        ...clientTls,
        agent: false,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
          if (text.length > 256 * 1024) req.destroy(new DeviceSdkError("SDK_BAD_RESPONSE", "EST response larger than 256 KiB"));
        });
        res.on("end", () => {
          if (res.statusCode === 200) return resolve(text);
          let code = "";
          let message = text.slice(0, 300);
          try {
            const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
            code = parsed.error?.code ?? "";
            message = parsed.error?.message ?? message;
          } catch {
            // not a JSON error body
          }
          reject(
            new DeviceSdkError(
              "SDK_ENROLLMENT_REFUSED",
              `Vigil refused the request (HTTP ${res.statusCode}${code ? ` ${code}` : ""}): ${message}`,
              { serverCode: code },
            ),
          );
        });
      },
    );
    req.on("timeout", () =>
      req.destroy(new DeviceSdkError("SDK_SERVER_UNREACHABLE", `no answer from ${server} within ${timeoutMs} ms`)),
    );
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error instanceof DeviceSdkError) return reject(error);
      reject(
        new DeviceSdkError("SDK_SERVER_UNREACHABLE", `cannot reach ${server}: ${error.code ?? error.message}`, { cause: error }),
      );
    });
    req.end(body);
  });
}

async function store(
  dir: string,
  deviceId: string,
  keyPem: string,
  caPem: string,
  base64Pkcs7: string,
): Promise<DeviceCredentials> {
  let certs: x509.X509Certificates;
  try {
    certs = new x509.X509Certificates(Buffer.from(base64Pkcs7.replace(/\s+/g, ""), "base64"));
  } catch (error) {
    throw new DeviceSdkError("SDK_BAD_RESPONSE", "the EST response is not a PKCS#7 certs-only structure", { cause: error });
  }
  const publicDer = createPublicKey(keyPem).export({ format: "der", type: "spki" });
  const cert = certs.find((c) => Buffer.from(c.publicKey.rawData).equals(publicDer));
  if (cert === undefined)
    throw new DeviceSdkError("SDK_BAD_RESPONSE", "the EST response holds no certificate for this device's key");
  if (cert.subjectName.getField("CN")[0] !== deviceId)
    throw new DeviceSdkError("SDK_BAD_RESPONSE", `the certificate is for ${cert.subject}, not ${deviceId}`);
  const certPem = cert.toString("pem") + "\n";
  await writeAtomic(join(dir, CERT_FILE), certPem, 0o644);
  await writeAtomic(join(dir, CA_FILE), caPem, 0o644);
  await chmod(join(dir, KEY_FILE), 0o600);
  return {
    deviceId,
    certPem,
    keyPem,
    caPem,
    serial: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, file);
}
