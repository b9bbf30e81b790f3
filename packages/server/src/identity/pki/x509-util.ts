import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash, createPrivateKey, webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
export const EC_P384 = { name: "ECDSA", namedCurve: "P-384" } as const;
export const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;
export const ECDSA_SHA384 = { name: "ECDSA", hash: "SHA-384" } as const;
export const RSA_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
export const DAY_MS = 86_400_000;

/** A positive 16-byte serial in hex (RFC 5280 §4.1.2.2: at most 20 octets, non-negative). */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40; // positive, and no leading zero nibble to lose in hex forms
  return Buffer.from(bytes).toString("hex");
}

export function sha256Hex(data: ArrayBuffer | Uint8Array): string {
  return createHash("sha256")
    .update(data instanceof Uint8Array ? data : new Uint8Array(data))
    .digest("hex");
}

export function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

export async function exportPkcs8Pem(key: CryptoKey): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** The WebCrypto algorithm that signs with a private key, derived from the key itself. */
export function signingAlgorithmOf(pem: string): {
  importAlg: { name: "ECDSA"; namedCurve: "P-256" | "P-384" } | { name: "RSASSA-PKCS1-v1_5"; hash: "SHA-256" };
  sign: typeof ECDSA_SHA256 | typeof ECDSA_SHA384 | typeof RSA_SHA256;
} {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1") return { importAlg: EC_P256, sign: ECDSA_SHA256 };
    if (curve === "secp384r1") return { importAlg: EC_P384, sign: ECDSA_SHA384 };
    throw new Error(`unsupported EC curve ${curve}`);
  }
  if (key.asymmetricKeyType === "rsa" && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) {
    return { importAlg: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, sign: RSA_SHA256 };
  }
  throw new Error(`unsupported CA key type ${key.asymmetricKeyType} (use EC P-256/P-384 or RSA >= 2048)`);
}

/** Imports a PEM private key (any of PKCS#8, SEC1 or PKCS#1) as a WebCrypto signing key. */
export async function importSigningKey(
  pem: string,
): Promise<{ key: CryptoKey; sign: ReturnType<typeof signingAlgorithmOf>["sign"] }> {
  const { importAlg, sign } = signingAlgorithmOf(pem);
  const der = createPrivateKey(pem).export({ format: "der", type: "pkcs8" });
  const key = await webcrypto.subtle.importKey("pkcs8", der, importAlg, false, ["sign"]);
  return { key, sign };
}
