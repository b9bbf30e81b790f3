import type { Scope } from "@vigil/contract";
import type { Millis, OperatorId, TokenId } from "../core/index.js";

/** Roles are introduced fully by the operator-security issue; `admin` is the bootstrap role. */
export type Role = "admin" | "security-operator" | "fleet-operator" | "auditor" | "device-integrator";

export interface OperatorRecord {
  readonly id: OperatorId;
  readonly username: string;
  /** PHC-format argon2id hash; the password itself is never stored. */
  readonly passwordHash: string;
  readonly role: Role;
  readonly mustChangePassword: boolean;
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
}

/** Port: the store implements it (SQLite now, PostgreSQL later). Throws STORE_CONFLICT on a duplicate. */
export interface OperatorRepository {
  count(): Promise<number>;
  findByUsername(username: string): Promise<OperatorRecord | undefined>;
  findById(id: OperatorId): Promise<OperatorRecord | undefined>;
  insert(record: OperatorRecord): Promise<void>;
  updatePassword(id: OperatorId, passwordHash: string, mustChangePassword: boolean, at: Millis): Promise<void>;
}

export interface TokenRepository {
  insert(record: TokenRecord): Promise<void>;
  findById(id: TokenId): Promise<TokenRecord | undefined>;
  revoke(id: TokenId, at: Millis): Promise<boolean>;
  listForOperator(operatorId: OperatorId): Promise<TokenRecord[]>;
}
