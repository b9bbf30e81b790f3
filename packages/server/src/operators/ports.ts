import type { Scope } from "@vigil/contract";
import type { Millis, OperatorId, TokenId } from "../core/index.js";

/** Operator roles; what each may do is `ROLE_PERMISSIONS` in permissions.ts. `admin` is the bootstrap role. */
export type Role = "admin" | "security-operator" | "fleet-operator" | "auditor" | "device-integrator";

export interface OperatorRecord {
  readonly id: OperatorId;
  readonly username: string;
  /** PHC-format argon2id hash; the password itself is never stored. */
  readonly passwordHash: string;
  readonly role: Role;
  readonly mustChangePassword: boolean;
  /** Sites whose devices the operator may see and touch; `["*"]` is every site. */
  readonly sites: readonly string[];
  readonly disabledAt: Millis | null;
  readonly createdAt: Millis;
  readonly updatedAt: Millis;
}

export interface TokenRecord {
  readonly id: TokenId;
  readonly operatorId: OperatorId;
  /** SHA-256 of the token's secret part, hex. The secret itself is never stored. */
  readonly secretHash: string;
  readonly scopes: readonly Scope[];
  readonly label: string;
  readonly createdAt: Millis;
  readonly expiresAt: Millis;
  readonly revokedAt: Millis | null;
  /** Whether a second factor was presented when it was issued (or enrolled with it). */
  readonly mfa: boolean;
}

/** Port: the store implements it (SQLite now, PostgreSQL later). Throws STORE_CONFLICT on a duplicate. */
export interface OperatorRepository {
  count(): Promise<number>;
  findByUsername(username: string): Promise<OperatorRecord | undefined>;
  findById(id: OperatorId): Promise<OperatorRecord | undefined>;
  insert(record: OperatorRecord): Promise<void>;
  updatePassword(id: OperatorId, passwordHash: string, mustChangePassword: boolean, at: Millis): Promise<void>;
  list(): Promise<OperatorRecord[]>;
  setDisabled(id: OperatorId, disabledAt: Millis | null, at: Millis): Promise<void>;
}

export interface TokenRepository {
  insert(record: TokenRecord): Promise<void>;
  findById(id: TokenId): Promise<TokenRecord | undefined>;
  revoke(id: TokenId, at: Millis): Promise<boolean>;
  listForOperator(operatorId: OperatorId): Promise<TokenRecord[]>;
  /** Marks a token as opened with a second factor (after the operator enrolled one with it). */
  markMfa(id: TokenId): Promise<void>;
  /** Revokes every live token of an operator; returns how many. */
  revokeAllFor(operatorId: OperatorId, at: Millis): Promise<number>;
}

/** An operator's second factors. The TOTP secret is sealed (SealedField), never stored in the clear. */
export interface TotpRecord {
  readonly sealedSecret: string;
  /** null while the enrolment waits for its first code. */
  readonly confirmedAt: Millis | null;
  /** The last accepted time step: a code is accepted once only (RFC 6238 §5.2). */
  readonly lastStep: number | null;
}

export interface WebAuthnCredentialRecord {
  readonly id: string;
  readonly operatorId: OperatorId;
  readonly name: string;
  /** COSE public key, base64url. */
  readonly publicKey: string;
  readonly counter: number;
  readonly transports: readonly string[];
  readonly createdAt: Millis;
  readonly lastUsedAt: Millis | null;
}

export interface MfaRepository {
  getTotp(operatorId: OperatorId): Promise<TotpRecord | undefined>;
  /** Starts (or restarts) an enrolment: the pending secret replaces a pending one, never a confirmed one. */
  setPendingTotp(operatorId: OperatorId, sealedSecret: string, at: Millis): Promise<void>;
  getPendingTotp(operatorId: OperatorId): Promise<string | undefined>;
  /** Makes the pending secret the confirmed one, with the step of the confirming code. */
  confirmTotp(operatorId: OperatorId, step: number, at: Millis): Promise<void>;
  /** Records an accepted step; false when a step at or after it was already used (a replay, or a race). */
  useTotpStep(operatorId: OperatorId, step: number): Promise<boolean>;
  replaceRecoveryCodes(operatorId: OperatorId, digests: readonly string[], at: Millis): Promise<void>;
  /** Marks the code used; false when unknown or already used. */
  useRecoveryCode(operatorId: OperatorId, digest: string, at: Millis): Promise<boolean>;
  recoveryCodesLeft(operatorId: OperatorId): Promise<number>;
  addWebAuthn(record: WebAuthnCredentialRecord): Promise<void>;
  listWebAuthn(operatorId: OperatorId): Promise<WebAuthnCredentialRecord[]>;
  updateWebAuthnCounter(id: string, counter: number, at: Millis): Promise<void>;
  /** Removes every factor and recovery code of the operator (admin reset). */
  clear(operatorId: OperatorId): Promise<void>;
}

/** A console session: only the SHA-256 of its secret and of its CSRF token are stored. */
export interface SessionRecord {
  readonly id: string;
  readonly operatorId: OperatorId;
  readonly secretHash: string;
  readonly csrfHash: string;
  readonly mfa: boolean;
  readonly remote: string;
  readonly createdAt: Millis;
  readonly expiresAt: Millis;
  readonly lastSeenAt: Millis;
  readonly revokedAt: Millis | null;
}

export interface SessionRepository {
  insert(record: SessionRecord): Promise<void>;
  findById(id: string): Promise<SessionRecord | undefined>;
  touch(id: string, at: Millis): Promise<void>;
  markMfa(id: string): Promise<void>;
  revoke(id: string, at: Millis): Promise<boolean>;
  revokeAllFor(operatorId: OperatorId, at: Millis): Promise<number>;
}
