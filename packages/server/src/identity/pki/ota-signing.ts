import { canonicalJson, type OtaKeyType } from "@vigil/contract";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";

/**
 * The cryptography of OTA metadata (TUF spec 1.0 §4.2): Ed25519 (RFC 8032) or ECDSA P-256
 * with SHA-256 (DER signatures, FIPS 186-4) over the canonical JSON (RFC 8785) of `signed`.
 * These keys are separate from the CA's: a compromised issuing CA cannot sign firmware, and a
 * compromised targets key cannot mint device certificates. The device SDK verifies the same
 * bytes with the same rules (packages/device-sdk/src/ota.ts).
 */

export interface OtaKeyPair {
  readonly keytype: OtaKeyType;
  readonly keyid: string;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

export interface OtaSignatureValue {
  readonly keyid: string;
  readonly sig: string;
}

/** A key's id: SHA-256 (hex) of its SubjectPublicKeyInfo DER (TUF §4.2 leaves the scheme to the repository). */
export function otaKeyId(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("hex");
}

function keyTypeOf(key: KeyObject): OtaKeyType {
  if (key.asymmetricKeyType === "ed25519") return "ed25519";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ecdsa-p256";
  throw new RangeError(`OTA keys are Ed25519 or ECDSA P-256, not ${key.asymmetricKeyType ?? "unknown"}`);
}

export function generateOtaKeyPair(keytype: OtaKeyType): OtaKeyPair {
  const { privateKey, publicKey } =
    keytype === "ed25519" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  return {
    keytype,
    keyid: otaKeyId(publicKeyPem),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem,
  };
}

/** Re-reads a sealed private key (PKCS#8 PEM) into a key pair description. */
export function loadOtaKeyPair(privateKeyPem: string): OtaKeyPair {
  const key = createPrivateKey(privateKeyPem);
  const publicKeyPem = createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
  return { keytype: keyTypeOf(key), keyid: otaKeyId(publicKeyPem), privateKeyPem, publicKeyPem };
}

/** The signature of `signed` (its canonical JSON) by `key`. */
export function signOtaMetadata(signed: unknown, key: OtaKeyPair): OtaSignatureValue {
  const message = Buffer.from(canonicalJson(signed), "utf8");
  const privateKey = createPrivateKey(key.privateKeyPem);
  const sig = sign(key.keytype === "ed25519" ? null : "sha256", message, privateKey);
  return { keyid: key.keyid, sig: sig.toString("base64") };
}

/** True when `sig` (base64) is `public`'s valid signature of `signed`. Never throws. */
export function verifyOtaSignature(key: { keytype: OtaKeyType; public: string }, signed: unknown, sig: string): boolean {
  try {
    const publicKey = createPublicKey(key.public);
    if (keyTypeOf(publicKey) !== key.keytype) return false;
    const message = Buffer.from(canonicalJson(signed), "utf8");
    return verify(key.keytype === "ed25519" ? null : "sha256", message, publicKey, Buffer.from(sig, "base64"));
  } catch {
    return false;
  }
}

/**
 * TUF §5.3.4 / §5.5.3: how many distinct keys of `role` signed `signed` validly. A key is
 * counted once however many signatures carry its id, and only if the role lists it.
 */
export function countValidOtaSignatures(
  signed: unknown,
  signatures: readonly OtaSignatureValue[],
  keys: Readonly<Record<string, { keytype: OtaKeyType; public: string }>>,
  roleKeyIds: readonly string[],
): number {
  const counted = new Set<string>();
  for (const s of signatures) {
    if (counted.has(s.keyid) || !roleKeyIds.includes(s.keyid)) continue;
    const key = keys[s.keyid];
    if (key !== undefined && otaKeyId(key.public) === s.keyid && verifyOtaSignature(key, signed, s.sig)) counted.add(s.keyid);
  }
  return counted.size;
}

/** Streaming SHA-256 for firmware images. */
export function otaImageHasher(): { update(chunk: Buffer): void; digestHex(): string } {
  const hash = createHash("sha256");
  return { update: (chunk) => void hash.update(chunk), digestHex: () => hash.digest("hex") };
}
