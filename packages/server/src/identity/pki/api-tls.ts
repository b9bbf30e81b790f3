import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto, X509Certificate, createPrivateKey } from "node:crypto";
import { mkdir, readFile, writeFile, rename } from "node:fs/promises";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { VigilError, type Clock } from "../../core/index.js";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY = 86_400_000;

export interface ApiTlsMaterial {
  /** PEM of the certificate chain the API serves (leaf first). */
  readonly cert: string;
  readonly key: string;
  /** PEM of the CA a client must trust to reach the API (what `curl --cacert` takes). */
  readonly caFile: string;
  readonly ca: string;
  /** True when Vigil made the material itself on this start. */
  readonly created: boolean;
}

/**
 * The API's TLS identity on a fresh install: a local CA (P-256, ten years) and a server
 * certificate for localhost, 127.0.0.1, ::1 and this host's name, signed by that CA.
 * Reused while valid for at least `renewBeforeDays`; renewed (same CA) otherwise.
 * The device-identity issue replaces the local CA with Vigil's issuing CA.
 */
export async function ensureApiTls(
  dir: string,
  clock: Clock,
  options: { hosts?: readonly string[]; renewBeforeDays?: number } = {},
): Promise<ApiTlsMaterial> {
  const caFile = join(dir, "ca.pem");
  const caKeyFile = join(dir, "ca-key.pem");
  const certFile = join(dir, "api.pem");
  const keyFile = join(dir, "api-key.pem");
  const renewBefore = (options.renewBeforeDays ?? 7) * DAY;
  const now = clock.now();
  await mkdir(dir, { recursive: true, mode: 0o700 });

  if ([caFile, caKeyFile, certFile, keyFile].every((f) => existsSync(f))) {
    const [ca, cert, key] = await Promise.all([readFile(caFile, "utf8"), readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
    const leaf = new X509Certificate(cert);
    if (Date.parse(leaf.validTo) - now > renewBefore) return { cert, key, ca, caFile, created: false };
  }

  const names = ["localhost", hostname(), ...(options.hosts ?? [])];
  const ipNames = ["127.0.0.1", "::1"];
  let caCert: x509.X509Certificate;
  let caKeys: webcrypto.CryptoKeyPair;
  if (existsSync(caFile) && existsSync(caKeyFile)) {
    caCert = new x509.X509Certificate(await readFile(caFile, "utf8"));
    caKeys = {
      publicKey: (await caCert.publicKey.export(EC_P256, ["verify"])) as webcrypto.CryptoKey,
      privateKey: await importPkcs8(await readFile(caKeyFile, "utf8")),
    };
  } else {
    caKeys = await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
    caCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=Vigil Local CA ${hostname()}, O=Vigil`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3650 * DAY),
      keys: caKeys,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    });
    await writeSecret(caKeyFile, await exportPkcs8(caKeys.privateKey));
    await writeAtomic(caFile, caCert.toString("pem"), 0o644);
  }

  const leafKeys = await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: "CN=vigil-api, O=Vigil",
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 397 * DAY),
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...[...new Set(names)].map((value) => ({ type: "dns" as const, value })),
        ...ipNames.map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const key = await exportPkcs8(leafKeys.privateKey);
  const cert = leaf.toString("pem");
  await writeSecret(keyFile, key);
  await writeAtomic(certFile, cert, 0o644);
  return { cert, key, ca: caCert.toString("pem"), caFile, created: true };
}

/** Loads an operator-supplied certificate and key, and checks that they parse and match. */
export async function loadApiTls(certFile: string, keyFile: string, caFile?: string): Promise<ApiTlsMaterial> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  } catch (error) {
    throw new VigilError("TLS_MATERIAL_INVALID", `cannot read TLS file: ${(error as Error).message}`, {
      cause: error,
      hint: "Check the paths given to --tls-cert and --tls-key and that Vigil can read them.",
    });
  }
  try {
    const leaf = new X509Certificate(cert);
    if (!leaf.checkPrivateKey(createPrivateKey(key))) throw new Error("the key does not belong to the certificate");
    createSecureContext({ cert, key });
  } catch (error) {
    throw new VigilError(
      "TLS_MATERIAL_INVALID",
      `TLS certificate ${certFile} / key ${keyFile} unusable: ${(error as Error).message}`,
      {
        cause: error,
        hint: "Give a PEM certificate chain (leaf first) and its matching unencrypted PEM private key.",
      },
    );
  }
  return { cert, key, ca: caFile ? await readFile(caFile, "utf8") : cert, caFile: caFile ?? certFile, created: false };
}

function serial(): string {
  // Positive 16-byte serial (RFC 5280 §4.1.2.2: at most 20 octets, non-negative).
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

async function exportPkcs8(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

async function importPkcs8(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  return webcrypto.subtle.importKey("pkcs8", der, EC_P256, true, ["sign"]);
}

async function writeSecret(file: string, data: string): Promise<void> {
  await writeAtomic(file, data, 0o600);
}

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode, flag: "w" });
  await rename(tmp, file);
}
