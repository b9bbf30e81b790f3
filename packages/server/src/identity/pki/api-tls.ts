import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdir, readFile, writeFile, rename } from "node:fs/promises";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { VigilError, type Clock } from "../../core/index.js";

import type { CertificateAuthority } from "./certificate-authority.js";
import type { KeyVault } from "./key-vault.js";

const DAY = 86_400_000;
const API_KEY = "api-tls";

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
 * The API's TLS identity when the operator brings none: a server certificate from Vigil's
 * issuing CA for localhost, 127.0.0.1, ::1, this host's name and the configured host. Its key
 * is sealed in the key vault. Reused while valid for at least `renewBeforeDays` and issued by
 * the current issuing CA; renewed otherwise. `tls/ca.pem` is the root clients must trust.
 */
export async function ensureApiTls(
  dir: string,
  ca: CertificateAuthority,
  vault: KeyVault,
  clock: Clock,
  options: { names?: readonly string[]; ips?: readonly string[]; renewBeforeDays?: number } = {},
): Promise<ApiTlsMaterial> {
  const caFile = join(dir, "ca.pem");
  const certFile = join(dir, "api.pem");
  const renewBefore = (options.renewBeforeDays ?? 7) * DAY;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeAtomic(caFile, ca.rootPem, 0o644);
  if (existsSync(certFile) && vault.has(API_KEY)) {
    const cert = await readFile(certFile, "utf8");
    const leaf = new X509Certificate(cert);
    if (Date.parse(leaf.validTo) - clock.now() > renewBefore && ca.issuedByUs(leaf)) {
      return { cert, key: await vault.get(API_KEY), ca: ca.rootPem, caFile, created: false };
    }
  }
  const issued = await ca.issueServer([hostname(), ...(options.names ?? [])], options.ips ?? []);
  await vault.put(API_KEY, issued.keyPem);
  await writeAtomic(certFile, issued.chainPem, 0o644);
  return { cert: issued.chainPem, key: issued.keyPem, ca: ca.rootPem, caFile, created: true };
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

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode, flag: "w" });
  await rename(tmp, file);
}
