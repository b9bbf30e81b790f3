import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { VigilError } from "../../core/index.js";
import type { KeyVault } from "./key-vault.js";
import { canonicalJson } from "@vigil/contract";

/**
 * The audit log's cryptography: the entry hash chain (SHA-256 over canonical JSON) and the
 * Ed25519 signatures of its checkpoints (RFC 8032). The formats below are a contract with
 * every verifier, Vigil's own and third parties': never change them in place.
 */

/** The `prevHash` of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** The type tag inside every signed checkpoint message (domain separation). */
export const CHECKPOINT_TYPE = "vigil-audit-checkpoint/1";

export { canonicalJson };

/** What an entry's hash commits to. `details` is the canonical JSON text of the details object. */
export interface AuditHashInput {
  readonly seq: number;
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: string;
  readonly details: string;
  readonly prevHash: string;
}

/**
 * `hash = SHA-256(JCS({action, actor, at, details, outcome, prevHash, seq, target}))`, hex.
 * `details` is spliced in as recorded, so that any change to its text (even one that parses
 * to the same object) breaks the hash; for an untampered entry the input is exactly the
 * canonical JSON of the entry with its details object.
 */
export function auditEntryHash(e: AuditHashInput): string {
  const text =
    `{"action":${JSON.stringify(e.action)},"actor":${JSON.stringify(e.actor)},"at":${canonicalJson(e.at)},` +
    `"details":${e.details},"outcome":${JSON.stringify(e.outcome)},"prevHash":${JSON.stringify(e.prevHash)},` +
    `"seq":${canonicalJson(e.seq)},"target":${e.target === null ? "null" : JSON.stringify(e.target)}}`;
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** What a checkpoint signature covers. */
export interface CheckpointClaim {
  readonly seq: number;
  readonly hash: string;
  readonly at: number;
  readonly keyId: string;
}

/** The signed message: JCS({at, hash, keyId, seq, type}). */
export function checkpointMessage(c: CheckpointClaim): Buffer {
  return Buffer.from(canonicalJson({ at: c.at, hash: c.hash, keyId: c.keyId, seq: c.seq, type: CHECKPOINT_TYPE }), "utf8");
}

/** A key's id: SHA-256 of its SubjectPublicKeyInfo (DER), hex. */
export function auditKeyId(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("hex");
}

export interface AuditSigningKey {
  readonly keyId: string;
  /** SPKI PEM: what a verifier needs, and all it needs. */
  readonly publicKeyPem: string;
  /** Ed25519 signature (base64) over the checkpoint message. */
  signCheckpoint(claim: Omit<CheckpointClaim, "keyId">): string;
}

/** A new Ed25519 key pair, as PEM (PKCS#8 private, SPKI public). */
export function generateAuditSigningKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** Parses a PKCS#8 PEM Ed25519 private key; AUDIT_KEY_INVALID for anything else. */
export function loadAuditSigningKey(privateKeyPem: string, where: string): AuditSigningKey {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (error) {
    throw badKey(where, "it is not a PEM private key", error);
  }
  if (key.asymmetricKeyType !== "ed25519") throw badKey(where, `it is a ${key.asymmetricKeyType ?? "unknown"} key, not Ed25519`);
  const publicKeyPem = createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
  const keyId = auditKeyId(publicKeyPem);
  return {
    keyId,
    publicKeyPem,
    signCheckpoint: (claim) => sign(null, checkpointMessage({ ...claim, keyId }), key).toString("base64"),
  };
}

/** True when `signature` (base64) is a valid Ed25519 signature of the checkpoint by `publicKeyPem`. */
export function verifyCheckpointSignature(publicKeyPem: string, claim: CheckpointClaim, signature: string): boolean {
  try {
    const key = createPublicKey(publicKeyPem);
    if (key.asymmetricKeyType !== "ed25519") return false;
    return verify(null, checkpointMessage(claim), key, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}

function badKey(where: string, why: string, cause?: unknown): VigilError {
  return new VigilError("AUDIT_KEY_INVALID", `the audit signing key ${where} is unusable: ${why}`, {
    cause,
    hint: "Restore <data-dir>/keys/audit-signing.sealed from a backup. Moving it aside makes Vigil create a new key (announced in the log); checkpoints signed before stay verifiable with the old public key.",
  });
}

/**
 * Where a signing key is kept. Callers see only this interface: the vault store below seals
 * the key at rest; an HSM/KMS-backed store can replace it without touching them.
 */
export interface SigningKeyStore {
  /** Where the key lives, for messages (never the key itself). */
  readonly location: string;
  /** The private key as PKCS#8 PEM, or undefined when none was created yet. */
  load(): Promise<string | undefined>;
  /** Persists a new key pair: the private key sealed, the public key readable by verifiers. */
  save(privateKeyPem: string, publicKeyPem: string): Promise<void>;
}

/**
 * The private key sealed in the key vault as item `name` (AES-256-GCM envelope, see
 * key-vault.ts), and its public half as a plain PEM file for the operator to copy off the
 * machine (`vigil audit verify --public-key`).
 */
export function vaultSigningKeyStore(vault: KeyVault, name: string, publicKeyFile: string): SigningKeyStore {
  return {
    location: `key vault item "${name}"`,
    load: async () => (vault.has(name) ? vault.get(name) : undefined),
    async save(privateKeyPem, publicKeyPem) {
      await mkdir(dirname(publicKeyFile), { recursive: true, mode: 0o700 });
      await writeAtomic(publicKeyFile, publicKeyPem, 0o644); // not secret; the umask may narrow it
      await vault.put(name, privateKeyPem);
    },
  };
}

/** Write to a fresh temporary file (created with `mode`), fsync, then rename over `file`. */
async function writeAtomic(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  const handle = await open(tmp, "wx", mode);
  try {
    await handle.writeFile(content, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}
