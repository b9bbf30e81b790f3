import type { Millis } from "../core/index.js";

/** How an audited action ended. Read back as a plain string: a log outlives this union. */
export type AuditOutcome = "success" | "failure" | "denied";

/**
 * One audit entry, as recorded. `hash` commits to every other field, `prevHash` included,
 * so each entry commits to the whole history before it (see identity/pki/audit-signing.ts
 * for the exact format).
 */
export interface AuditEntry {
  /** 1, 2, 3 ... with no gaps. */
  readonly seq: number;
  readonly at: Millis;
  /** Operator name, "system", "anonymous" (unauthenticated caller), or a device id. */
  readonly actor: string;
  /** The signal name (`device.registered`) or the audit log's own action (`audit.key_created`). */
  readonly action: string;
  readonly target: string | null;
  readonly outcome: string;
  /** Canonical JSON (RFC 8785) of a details object; never holds secrets. */
  readonly details: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** A signed statement "the chain up to `seq` has head `hash`". */
export interface AuditCheckpoint {
  readonly seq: number;
  readonly hash: string;
  readonly at: Millis;
  readonly keyId: string;
  /** Ed25519 signature, base64. */
  readonly signature: string;
}

/** A public key that signed (or signs) checkpoints, recorded so verifiers need no private key. */
export interface AuditKeyRecord {
  readonly id: string;
  readonly algorithm: "ed25519";
  /** SPKI PEM. */
  readonly publicKey: string;
  readonly createdAt: Millis;
}

/** The read side: what `vigil audit verify` needs, and all the API needs. */
export interface AuditReader {
  last(): Promise<AuditEntry | undefined>;
  /** Entries with `seq >= fromSeq`, ascending, at most `limit`. */
  range(fromSeq: number, limit: number): Promise<AuditEntry[]>;
  count(): Promise<number>;
  /** Every checkpoint, ascending by seq. */
  checkpoints(): Promise<AuditCheckpoint[]>;
  keys(): Promise<AuditKeyRecord[]>;
}

/**
 * Port: the store implements it. Append-only: there is no update or delete, on purpose.
 * `appendBatch` writes all of its entries in one transaction or none of them.
 */
export interface AuditRepository extends AuditReader {
  appendBatch(entries: readonly AuditEntry[]): Promise<void>;
  appendCheckpoint(checkpoint: AuditCheckpoint): Promise<void>;
  /** Records a public key; recording one already known is a no-op. */
  addKey(key: AuditKeyRecord): Promise<void>;
}
