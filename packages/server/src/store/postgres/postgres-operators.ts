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
import { conflict, isUniqueViolation, type Db } from "./postgres-db.js";
import { toWebAuthn, type WebAuthnRow, type DataKeyRow, toDataKey } from "../rows/operator-rows.js";

interface OperatorRow {
  id: string;
  username: string;
  password_hash: string;
  role: string;
  must_change_password: boolean;
  sites: string;
  disabled_at: number | null;
  created_at: number;
  updated_at: number;
}

function toOperator(row: OperatorRow): OperatorRecord {
  return {
    id: row.id as OperatorId,
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role as Role,
    mustChangePassword: row.must_change_password,
    sites: JSON.parse(row.sites) as string[],
    disabledAt: row.disabled_at as Millis | null,
    createdAt: row.created_at as Millis,
    updatedAt: row.updated_at as Millis,
  };
}

export class PostgresOperators implements OperatorRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async count(): Promise<number> {
    return (await this.#db.query<{ n: number }>("SELECT COUNT(*) AS n FROM operators")).rows[0]?.n ?? 0;
  }

  async findByUsername(username: string): Promise<OperatorRecord | undefined> {
    const { rows } = await this.#db.query<OperatorRow>("SELECT * FROM operators WHERE username = $1", [username]);
    return rows[0] && toOperator(rows[0]);
  }

  async findById(id: OperatorId): Promise<OperatorRecord | undefined> {
    const { rows } = await this.#db.query<OperatorRow>("SELECT * FROM operators WHERE id = $1", [id]);
    return rows[0] && toOperator(rows[0]);
  }

  async insert(r: OperatorRecord): Promise<void> {
    try {
      await this.#db.query(
        "INSERT INTO operators (id, username, password_hash, role, must_change_password, sites, disabled_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [
          r.id,
          r.username,
          r.passwordHash,
          r.role,
          r.mustChangePassword,
          JSON.stringify(r.sites),
          r.disabledAt,
          r.createdAt,
          r.updatedAt,
        ],
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`operator ${r.username}`, error);
      throw error;
    }
  }

  async updatePassword(id: OperatorId, passwordHash: string, mustChangePassword: boolean, at: Millis): Promise<void> {
    await this.#db.query("UPDATE operators SET password_hash = $1, must_change_password = $2, updated_at = $3 WHERE id = $4", [
      passwordHash,
      mustChangePassword,
      at,
      id,
    ]);
  }

  async list(): Promise<OperatorRecord[]> {
    return (await this.#db.query<OperatorRow>("SELECT * FROM operators ORDER BY username")).rows.map(toOperator);
  }

  async setDisabled(id: OperatorId, disabledAt: Millis | null, at: Millis): Promise<void> {
    await this.#db.query("UPDATE operators SET disabled_at = $1, updated_at = $2 WHERE id = $3", [disabledAt, at, id]);
  }
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
  mfa: boolean;
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
    mfa: row.mfa,
  };
}

export class PostgresTokens implements TokenRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async insert(r: TokenRecord): Promise<void> {
    try {
      await this.#db.query(
        "INSERT INTO api_tokens (id, operator_id, secret_hash, scopes, label, created_at, expires_at, revoked_at, mfa) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [r.id, r.operatorId, r.secretHash, JSON.stringify(r.scopes), r.label, r.createdAt, r.expiresAt, r.revokedAt, r.mfa],
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`token ${r.id}`, error);
      throw error;
    }
  }

  /** The per-request lookup: a named statement, prepared once per pooled connection. */
  async findById(id: TokenId): Promise<TokenRecord | undefined> {
    const { rows } = await this.#db.pool.query<TokenRow>({
      name: "vigil_token_by_id",
      text: "SELECT * FROM api_tokens WHERE id = $1",
      values: [id],
    });
    return rows[0] && toToken(rows[0]);
  }

  async revoke(id: TokenId, at: Millis): Promise<boolean> {
    return (
      (await this.#db.query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [at, id])).rowCount ===
      1
    );
  }

  async listForOperator(operatorId: OperatorId): Promise<TokenRecord[]> {
    return (
      await this.#db.query<TokenRow>("SELECT * FROM api_tokens WHERE operator_id = $1 ORDER BY created_at", [operatorId])
    ).rows.map(toToken);
  }

  async markMfa(id: TokenId): Promise<void> {
    await this.#db.query("UPDATE api_tokens SET mfa = true WHERE id = $1", [id]);
  }

  async revokeAllFor(operatorId: OperatorId, at: Millis): Promise<number> {
    return (
      (
        await this.#db.query("UPDATE api_tokens SET revoked_at = $1 WHERE operator_id = $2 AND revoked_at IS NULL", [
          at,
          operatorId,
        ])
      ).rowCount ?? 0
    );
  }
}

interface MfaRow {
  totp_secret: string | null;
  totp_pending: string | null;
  totp_confirmed_at: number | null;
  totp_last_step: number | null;
}

export class PostgresMfa implements MfaRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async #row(operatorId: OperatorId): Promise<MfaRow | undefined> {
    const { rows } = await this.#db.query<MfaRow>(
      "SELECT totp_secret, totp_pending, totp_confirmed_at, totp_last_step FROM operator_mfa WHERE operator_id = $1",
      [operatorId],
    );
    return rows[0];
  }

  async getTotp(operatorId: OperatorId): Promise<TotpRecord | undefined> {
    const row = await this.#row(operatorId);
    if (row === undefined || row.totp_secret === null) return undefined;
    return { sealedSecret: row.totp_secret, confirmedAt: row.totp_confirmed_at as Millis | null, lastStep: row.totp_last_step };
  }

  async setPendingTotp(operatorId: OperatorId, sealedSecret: string, at: Millis): Promise<void> {
    await this.#db.query(
      `INSERT INTO operator_mfa (operator_id, totp_pending, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (operator_id) DO UPDATE SET totp_pending = excluded.totp_pending, updated_at = excluded.updated_at`,
      [operatorId, sealedSecret, at],
    );
  }

  async getPendingTotp(operatorId: OperatorId): Promise<string | undefined> {
    return (await this.#row(operatorId))?.totp_pending ?? undefined;
  }

  async confirmTotp(operatorId: OperatorId, step: number, at: Millis): Promise<void> {
    await this.#db.query(
      `UPDATE operator_mfa SET totp_secret = totp_pending, totp_pending = NULL, totp_confirmed_at = $1, totp_last_step = $2, updated_at = $1
       WHERE operator_id = $3 AND totp_pending IS NOT NULL`,
      [at, step, operatorId],
    );
  }

  /** Atomic: two requests racing with one code cannot both pass (one UPDATE, row-locked). */
  async useTotpStep(operatorId: OperatorId, step: number): Promise<boolean> {
    const result = await this.#db.query(
      "UPDATE operator_mfa SET totp_last_step = $1 WHERE operator_id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
      [step, operatorId],
    );
    return result.rowCount === 1;
  }

  async replaceRecoveryCodes(operatorId: OperatorId, digests: readonly string[], at: Millis): Promise<void> {
    await this.#db.tx(async (client) => {
      await client.query("DELETE FROM operator_recovery_codes WHERE operator_id = $1", [operatorId]);
      for (const d of digests) {
        await client.query("INSERT INTO operator_recovery_codes (operator_id, code_hash, created_at) VALUES ($1, $2, $3)", [
          operatorId,
          d,
          at,
        ]);
      }
    });
  }

  async useRecoveryCode(operatorId: OperatorId, digest: string, at: Millis): Promise<boolean> {
    const result = await this.#db.query(
      "UPDATE operator_recovery_codes SET used_at = $1 WHERE operator_id = $2 AND code_hash = $3 AND used_at IS NULL",
      [at, operatorId, digest],
    );
    return result.rowCount === 1;
  }

  async recoveryCodesLeft(operatorId: OperatorId): Promise<number> {
    const { rows } = await this.#db.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM operator_recovery_codes WHERE operator_id = $1 AND used_at IS NULL",
      [operatorId],
    );
    return rows[0]?.n ?? 0;
  }

  async addWebAuthn(r: WebAuthnCredentialRecord): Promise<void> {
    try {
      await this.#db.query(
        "INSERT INTO webauthn_credentials (id, operator_id, name, public_key, counter, transports, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [r.id, r.operatorId, r.name, r.publicKey, r.counter, JSON.stringify(r.transports), r.createdAt, r.lastUsedAt],
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`WebAuthn credential ${r.id}`, error);
      throw error;
    }
  }

  async listWebAuthn(operatorId: OperatorId): Promise<WebAuthnCredentialRecord[]> {
    const { rows } = await this.#db.query<WebAuthnRow>(
      "SELECT * FROM webauthn_credentials WHERE operator_id = $1 ORDER BY created_at",
      [operatorId],
    );
    return rows.map(toWebAuthn);
  }

  async updateWebAuthnCounter(id: string, counter: number, at: Millis): Promise<void> {
    await this.#db.query("UPDATE webauthn_credentials SET counter = $1, last_used_at = $2 WHERE id = $3", [counter, at, id]);
  }

  async clear(operatorId: OperatorId): Promise<void> {
    await this.#db.tx(async (client) => {
      await client.query("DELETE FROM operator_mfa WHERE operator_id = $1", [operatorId]);
      await client.query("DELETE FROM operator_recovery_codes WHERE operator_id = $1", [operatorId]);
      await client.query("DELETE FROM webauthn_credentials WHERE operator_id = $1", [operatorId]);
    });
  }
}

interface SessionRow {
  id: string;
  operator_id: string;
  secret_hash: string;
  csrf_hash: string;
  mfa: boolean;
  remote: string;
  created_at: number;
  expires_at: number;
  last_seen_at: number;
  revoked_at: number | null;
}

export class PostgresSessions implements SessionRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async insert(r: SessionRecord): Promise<void> {
    try {
      await this.#db.query(
        "INSERT INTO console_sessions (id, operator_id, secret_hash, csrf_hash, mfa, remote, created_at, expires_at, last_seen_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [r.id, r.operatorId, r.secretHash, r.csrfHash, r.mfa, r.remote, r.createdAt, r.expiresAt, r.lastSeenAt, r.revokedAt],
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`session ${r.id}`, error);
      throw error;
    }
  }

  async findById(id: string): Promise<SessionRecord | undefined> {
    const { rows } = await this.#db.pool.query<SessionRow>({
      name: "vigil_session_by_id",
      text: "SELECT * FROM console_sessions WHERE id = $1",
      values: [id],
    });
    const r = rows[0];
    return (
      r && {
        id: r.id,
        operatorId: r.operator_id as OperatorId,
        secretHash: r.secret_hash,
        csrfHash: r.csrf_hash,
        mfa: r.mfa,
        remote: r.remote,
        createdAt: r.created_at as Millis,
        expiresAt: r.expires_at as Millis,
        lastSeenAt: r.last_seen_at as Millis,
        revokedAt: r.revoked_at as Millis | null,
      }
    );
  }

  async touch(id: string, at: Millis): Promise<void> {
    await this.#db.query("UPDATE console_sessions SET last_seen_at = $1 WHERE id = $2", [at, id]);
  }

  async markMfa(id: string): Promise<void> {
    await this.#db.query("UPDATE console_sessions SET mfa = true WHERE id = $1", [id]);
  }

  async revoke(id: string, at: Millis): Promise<boolean> {
    return (
      (await this.#db.query("UPDATE console_sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [at, id]))
        .rowCount === 1
    );
  }

  async revokeAllFor(operatorId: OperatorId, at: Millis): Promise<number> {
    return (
      (
        await this.#db.query("UPDATE console_sessions SET revoked_at = $1 WHERE operator_id = $2 AND revoked_at IS NULL", [
          at,
          operatorId,
        ])
      ).rowCount ?? 0
    );
  }
}

export class PostgresDataKeys implements DataKeyRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async get(name: string): Promise<DataKeyRecord | undefined> {
    const { rows } = await this.#db.query<DataKeyRow>("SELECT * FROM sealed_data_keys WHERE name = $1", [name]);
    return rows[0] && toDataKey(rows[0]);
  }

  /** First writer wins across nodes: ON CONFLICT DO NOTHING, then read back the stored key. */
  async insertIfAbsent(record: DataKeyRecord): Promise<DataKeyRecord> {
    await this.#db.query(
      "INSERT INTO sealed_data_keys (name, master_key_id, wrapped, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
      [record.name, record.masterKeyId, JSON.stringify(record.wrapped), record.createdAt],
    );
    return (await this.get(record.name)) as DataKeyRecord;
  }

  async rewrap(name: string, masterKeyId: string, wrapped: SealedBlob, at: Millis): Promise<void> {
    await this.#db.query("UPDATE sealed_data_keys SET master_key_id = $1, wrapped = $2, rewrapped_at = $3 WHERE name = $4", [
      masterKeyId,
      JSON.stringify(wrapped),
      at,
      name,
    ]);
  }

  async list(): Promise<DataKeyRecord[]> {
    return (await this.#db.query<DataKeyRow>("SELECT * FROM sealed_data_keys ORDER BY name")).rows.map(toDataKey);
  }
}
