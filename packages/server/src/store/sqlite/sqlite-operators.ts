import type Database from "better-sqlite3";
import type { Scope } from "@vigil/contract";
import type { Millis, OperatorId, TokenId } from "../../core/index.js";
import type { DataKeyRecord, DataKeyRepository, SealedBlob } from "../../identity/index.js";
import type {
  MfaRepository,
  OperatorRecord,
  OperatorRepository,
  Role,
  SessionRecord,
  SessionRepository,
  TokenRecord,
  TokenRepository,
  TotpRecord,
  WebAuthnCredentialRecord,
} from "../../operators/index.js";
import { conflict, isUniqueViolation } from "./sql-errors.js";
import { toWebAuthn, type WebAuthnRow, type DataKeyRow, toDataKey } from "../rows/operator-rows.js";

type Db = Database.Database;

interface OperatorRow {
  id: string;
  username: string;
  password_hash: string;
  role: string;
  must_change_password: number;
  sites: string;
  disabled_at: number | null;
  created_at: number;
  updated_at: number;
}

export class SqliteOperators implements OperatorRepository {
  readonly #count;
  readonly #byName;
  readonly #byId;
  readonly #insert;
  readonly #updatePassword;
  readonly #list;
  readonly #setDisabled;

  constructor(db: Db) {
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM operators");
    this.#byName = db.prepare("SELECT * FROM operators WHERE username = ?");
    this.#byId = db.prepare("SELECT * FROM operators WHERE id = ?");
    this.#insert = db.prepare(
      "INSERT INTO operators (id, username, password_hash, role, must_change_password, sites, disabled_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#updatePassword = db.prepare(
      "UPDATE operators SET password_hash = ?, must_change_password = ?, updated_at = ? WHERE id = ?",
    );
    this.#list = db.prepare("SELECT * FROM operators ORDER BY username");
    this.#setDisabled = db.prepare("UPDATE operators SET disabled_at = ?, updated_at = ? WHERE id = ?");
  }

  async count(): Promise<number> {
    return (this.#count.get() as { n: number }).n;
  }

  async findByUsername(username: string): Promise<OperatorRecord | undefined> {
    const row = this.#byName.get(username) as OperatorRow | undefined;
    return row && toOperator(row);
  }

  async findById(id: OperatorId): Promise<OperatorRecord | undefined> {
    const row = this.#byId.get(id) as OperatorRow | undefined;
    return row && toOperator(row);
  }

  async insert(r: OperatorRecord): Promise<void> {
    try {
      this.#insert.run(
        r.id,
        r.username,
        r.passwordHash,
        r.role,
        r.mustChangePassword ? 1 : 0,
        JSON.stringify(r.sites),
        r.disabledAt,
        r.createdAt,
        r.updatedAt,
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`operator ${r.username}`, error);
      throw error;
    }
  }

  async updatePassword(id: OperatorId, passwordHash: string, mustChangePassword: boolean, at: Millis): Promise<void> {
    this.#updatePassword.run(passwordHash, mustChangePassword ? 1 : 0, at, id);
  }

  async list(): Promise<OperatorRecord[]> {
    return (this.#list.all() as OperatorRow[]).map(toOperator);
  }

  async setDisabled(id: OperatorId, disabledAt: Millis | null, at: Millis): Promise<void> {
    this.#setDisabled.run(disabledAt, at, id);
  }
}

function toOperator(row: OperatorRow): OperatorRecord {
  return {
    id: row.id as OperatorId,
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role as Role,
    mustChangePassword: row.must_change_password === 1,
    sites: JSON.parse(row.sites) as string[],
    disabledAt: row.disabled_at as Millis | null,
    createdAt: row.created_at as Millis,
    updatedAt: row.updated_at as Millis,
  };
}

interface TokenRow {
  id: string;
  operator_id: string;
  secret_hash: string;
  scopes: string;
  label: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  mfa: number;
}

export class SqliteTokens implements TokenRepository {
  readonly #insert;
  readonly #byId;
  readonly #revoke;
  readonly #forOperator;
  readonly #markMfa;
  readonly #revokeAll;

  constructor(db: Db) {
    this.#insert = db.prepare(
      "INSERT INTO api_tokens (id, operator_id, secret_hash, scopes, label, created_at, expires_at, revoked_at, mfa) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#byId = db.prepare("SELECT * FROM api_tokens WHERE id = ?");
    this.#revoke = db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
    this.#forOperator = db.prepare("SELECT * FROM api_tokens WHERE operator_id = ? ORDER BY created_at");
    this.#markMfa = db.prepare("UPDATE api_tokens SET mfa = 1 WHERE id = ?");
    this.#revokeAll = db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE operator_id = ? AND revoked_at IS NULL");
  }

  async insert(r: TokenRecord): Promise<void> {
    try {
      this.#insert.run(
        r.id,
        r.operatorId,
        r.secretHash,
        JSON.stringify(r.scopes),
        r.label,
        r.createdAt,
        r.expiresAt,
        r.revokedAt,
        r.mfa ? 1 : 0,
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`token ${r.id}`, error);
      throw error;
    }
  }

  async findById(id: TokenId): Promise<TokenRecord | undefined> {
    const row = this.#byId.get(id) as TokenRow | undefined;
    return row && toToken(row);
  }

  async revoke(id: TokenId, at: Millis): Promise<boolean> {
    return this.#revoke.run(at, id).changes === 1;
  }

  async listForOperator(operatorId: OperatorId): Promise<TokenRecord[]> {
    return (this.#forOperator.all(operatorId) as TokenRow[]).map(toToken);
  }

  async markMfa(id: TokenId): Promise<void> {
    this.#markMfa.run(id);
  }

  async revokeAllFor(operatorId: OperatorId, at: Millis): Promise<number> {
    return this.#revokeAll.run(at, operatorId).changes;
  }
}

function toToken(row: TokenRow): TokenRecord {
  return {
    id: row.id as TokenId,
    operatorId: row.operator_id as OperatorId,
    secretHash: row.secret_hash,
    scopes: JSON.parse(row.scopes) as Scope[],
    label: row.label,
    createdAt: row.created_at as Millis,
    expiresAt: row.expires_at as Millis,
    revokedAt: row.revoked_at as Millis | null,
    mfa: row.mfa === 1,
  };
}

export class SqliteMfa implements MfaRepository {
  readonly #db: Db;
  readonly #getTotp;
  readonly #setPending;
  readonly #confirm;
  readonly #useStep;
  readonly #deleteCodes;
  readonly #insertCode;
  readonly #useCode;
  readonly #codesLeft;
  readonly #addWebAuthn;
  readonly #listWebAuthn;
  readonly #counter;

  constructor(db: Db) {
    this.#db = db;
    this.#getTotp = db.prepare(
      "SELECT totp_secret, totp_pending, totp_confirmed_at, totp_last_step FROM operator_mfa WHERE operator_id = ?",
    );
    this.#setPending = db.prepare(
      `INSERT INTO operator_mfa (operator_id, totp_pending, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (operator_id) DO UPDATE SET totp_pending = excluded.totp_pending, updated_at = excluded.updated_at`,
    );
    this.#confirm = db.prepare(
      `UPDATE operator_mfa SET totp_secret = totp_pending, totp_pending = NULL, totp_confirmed_at = ?, totp_last_step = ?, updated_at = ?
       WHERE operator_id = ? AND totp_pending IS NOT NULL`,
    );
    // Atomic: two requests racing with one code cannot both pass.
    this.#useStep = db.prepare(
      "UPDATE operator_mfa SET totp_last_step = ? WHERE operator_id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
    );
    this.#deleteCodes = db.prepare("DELETE FROM operator_recovery_codes WHERE operator_id = ?");
    this.#insertCode = db.prepare("INSERT INTO operator_recovery_codes (operator_id, code_hash, created_at) VALUES (?, ?, ?)");
    this.#useCode = db.prepare(
      "UPDATE operator_recovery_codes SET used_at = ? WHERE operator_id = ? AND code_hash = ? AND used_at IS NULL",
    );
    this.#codesLeft = db.prepare("SELECT COUNT(*) AS n FROM operator_recovery_codes WHERE operator_id = ? AND used_at IS NULL");
    this.#addWebAuthn = db.prepare(
      "INSERT INTO webauthn_credentials (id, operator_id, name, public_key, counter, transports, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#listWebAuthn = db.prepare("SELECT * FROM webauthn_credentials WHERE operator_id = ? ORDER BY created_at");
    this.#counter = db.prepare("UPDATE webauthn_credentials SET counter = ?, last_used_at = ? WHERE id = ?");
  }

  #row(operatorId: OperatorId) {
    return this.#getTotp.get(operatorId) as
      | {
          totp_secret: string | null;
          totp_pending: string | null;
          totp_confirmed_at: number | null;
          totp_last_step: number | null;
        }
      | undefined;
  }

  async getTotp(operatorId: OperatorId): Promise<TotpRecord | undefined> {
    const row = this.#row(operatorId);
    if (row === undefined || row.totp_secret === null) return undefined;
    return {
      sealedSecret: row.totp_secret,
      confirmedAt: row.totp_confirmed_at as Millis | null,
      lastStep: row.totp_last_step,
    };
  }

  async setPendingTotp(operatorId: OperatorId, sealedSecret: string, at: Millis): Promise<void> {
    this.#setPending.run(operatorId, sealedSecret, at);
  }

  async getPendingTotp(operatorId: OperatorId): Promise<string | undefined> {
    return this.#row(operatorId)?.totp_pending ?? undefined;
  }

  async confirmTotp(operatorId: OperatorId, step: number, at: Millis): Promise<void> {
    this.#confirm.run(at, step, at, operatorId);
  }

  async useTotpStep(operatorId: OperatorId, step: number): Promise<boolean> {
    return this.#useStep.run(step, operatorId, step).changes === 1;
  }

  async replaceRecoveryCodes(operatorId: OperatorId, digests: readonly string[], at: Millis): Promise<void> {
    this.#db.transaction(() => {
      this.#deleteCodes.run(operatorId);
      for (const d of digests) this.#insertCode.run(operatorId, d, at);
    })();
  }

  async useRecoveryCode(operatorId: OperatorId, digest: string, at: Millis): Promise<boolean> {
    return this.#useCode.run(at, operatorId, digest).changes === 1;
  }

  async recoveryCodesLeft(operatorId: OperatorId): Promise<number> {
    return (this.#codesLeft.get(operatorId) as { n: number }).n;
  }

  async addWebAuthn(r: WebAuthnCredentialRecord): Promise<void> {
    try {
      this.#addWebAuthn.run(
        r.id,
        r.operatorId,
        r.name,
        r.publicKey,
        r.counter,
        JSON.stringify(r.transports),
        r.createdAt,
        r.lastUsedAt,
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`WebAuthn credential ${r.id}`, error);
      throw error;
    }
  }

  async listWebAuthn(operatorId: OperatorId): Promise<WebAuthnCredentialRecord[]> {
    return (this.#listWebAuthn.all(operatorId) as WebAuthnRow[]).map(toWebAuthn);
  }

  async updateWebAuthnCounter(id: string, counter: number, at: Millis): Promise<void> {
    this.#counter.run(counter, at, id);
  }

  async clear(operatorId: OperatorId): Promise<void> {
    this.#db.transaction(() => {
      this.#db.prepare("DELETE FROM operator_mfa WHERE operator_id = ?").run(operatorId);
      this.#deleteCodes.run(operatorId);
      this.#db.prepare("DELETE FROM webauthn_credentials WHERE operator_id = ?").run(operatorId);
    })();
  }
}

interface SessionRow {
  id: string;
  operator_id: string;
  secret_hash: string;
  csrf_hash: string;
  mfa: number;
  remote: string;
  created_at: number;
  expires_at: number;
  last_seen_at: number;
  revoked_at: number | null;
}

export class SqliteSessions implements SessionRepository {
  readonly #insert;
  readonly #byId;
  readonly #touch;
  readonly #markMfa;
  readonly #revoke;
  readonly #revokeAll;

  constructor(db: Db) {
    this.#insert = db.prepare(
      "INSERT INTO console_sessions (id, operator_id, secret_hash, csrf_hash, mfa, remote, created_at, expires_at, last_seen_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#byId = db.prepare("SELECT * FROM console_sessions WHERE id = ?");
    this.#touch = db.prepare("UPDATE console_sessions SET last_seen_at = ? WHERE id = ?");
    this.#markMfa = db.prepare("UPDATE console_sessions SET mfa = 1 WHERE id = ?");
    this.#revoke = db.prepare("UPDATE console_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
    this.#revokeAll = db.prepare("UPDATE console_sessions SET revoked_at = ? WHERE operator_id = ? AND revoked_at IS NULL");
  }

  async insert(r: SessionRecord): Promise<void> {
    this.#insert.run(
      r.id,
      r.operatorId,
      r.secretHash,
      r.csrfHash,
      r.mfa ? 1 : 0,
      r.remote,
      r.createdAt,
      r.expiresAt,
      r.lastSeenAt,
      r.revokedAt,
    );
  }

  async findById(id: string): Promise<SessionRecord | undefined> {
    const r = this.#byId.get(id) as SessionRow | undefined;
    return (
      r && {
        id: r.id,
        operatorId: r.operator_id as OperatorId,
        secretHash: r.secret_hash,
        csrfHash: r.csrf_hash,
        mfa: r.mfa === 1,
        remote: r.remote,
        createdAt: r.created_at as Millis,
        expiresAt: r.expires_at as Millis,
        lastSeenAt: r.last_seen_at as Millis,
        revokedAt: r.revoked_at as Millis | null,
      }
    );
  }

  async touch(id: string, at: Millis): Promise<void> {
    this.#touch.run(at, id);
  }

  async markMfa(id: string): Promise<void> {
    this.#markMfa.run(id);
  }

  async revoke(id: string, at: Millis): Promise<boolean> {
    return this.#revoke.run(at, id).changes === 1;
  }

  async revokeAllFor(operatorId: OperatorId, at: Millis): Promise<number> {
    return this.#revokeAll.run(at, operatorId).changes;
  }
}

export class SqliteDataKeys implements DataKeyRepository {
  readonly #get;
  readonly #insert;
  readonly #rewrap;
  readonly #list;

  constructor(db: Db) {
    this.#get = db.prepare("SELECT * FROM sealed_data_keys WHERE name = ?");
    this.#insert = db.prepare(
      "INSERT INTO sealed_data_keys (name, master_key_id, wrapped, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
    );
    this.#rewrap = db.prepare("UPDATE sealed_data_keys SET master_key_id = ?, wrapped = ?, rewrapped_at = ? WHERE name = ?");
    this.#list = db.prepare("SELECT * FROM sealed_data_keys ORDER BY name");
  }

  async get(name: string): Promise<DataKeyRecord | undefined> {
    const row = this.#get.get(name) as DataKeyRow | undefined;
    return row && toDataKey(row);
  }

  async insertIfAbsent(record: DataKeyRecord): Promise<DataKeyRecord> {
    this.#insert.run(record.name, record.masterKeyId, JSON.stringify(record.wrapped), record.createdAt);
    return toDataKey(this.#get.get(record.name) as DataKeyRow);
  }

  async rewrap(name: string, masterKeyId: string, wrapped: SealedBlob, at: Millis): Promise<void> {
    this.#rewrap.run(masterKeyId, JSON.stringify(wrapped), at, name);
  }

  async list(): Promise<DataKeyRecord[]> {
    return (this.#list.all() as DataKeyRow[]).map(toDataKey);
  }
}
