import type { Scope } from "@vigil/contract";
import { VigilError, iso, newId, type Clock, type Logger, type Millis, type OperatorId, type TokenId } from "../core/index.js";
import { digestsEqual, hashPassword, randomPassword, randomSecret, secretDigest, verifyPassword } from "../identity/index.js";
import type { SignalBus } from "../signals/index.js";
import type { OperatorRecord, OperatorRepository, Role, TokenRepository } from "./ports.js";

/** Where the first admin's one-time password is handed over (a 0600 file in the data dir). */
export interface InitialPasswordDrop {
  write(password: string): Promise<void>;
  remove(): Promise<void>;
}

/** Scopes each role may hold. The operator-security issue widens this into full RBAC. */
const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  admin: ["read", "write", "admin"],
  "security-operator": ["read", "write"],
  "fleet-operator": ["read", "write"],
  auditor: ["read"],
  "device-integrator": ["read", "write"],
};

export const MIN_PASSWORD_LENGTH = 12;
const TOKEN_PREFIX = "vgl1";

/** What an authenticated request knows about its caller. */
export interface Principal {
  readonly operatorId: OperatorId;
  readonly username: string;
  readonly role: Role;
  readonly tokenId: TokenId;
  readonly scopes: readonly Scope[];
  readonly expiresAt: Millis;
  readonly mustChangePassword: boolean;
}

export interface IssuedToken {
  readonly token: string;
  readonly tokenId: TokenId;
  readonly operator: string;
  readonly scopes: readonly Scope[];
  readonly expiresAt: Millis;
  readonly mustChangePassword: boolean;
}

export interface OperatorServiceDeps {
  readonly operators: OperatorRepository;
  readonly tokens: TokenRepository;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly initialPassword: InitialPasswordDrop;
  readonly tokenTtlMs: number;
}

/**
 * Operator accounts and API tokens. A token is `vgl1.<tokenId>.<secret>`; only the
 * SHA-256 of its secret is stored, and it is compared in constant time.
 */
export class OperatorService {
  readonly #d: OperatorServiceDeps;

  constructor(deps: OperatorServiceDeps) {
    this.#d = deps;
  }

  /**
   * First start only: creates `admin` with a random one-time password, hands it to the
   * drop (file, 0600) and returns it so the caller can print it once. Returns undefined
   * when operators already exist.
   */
  async bootstrap(): Promise<{ username: string; password: string } | undefined> {
    if ((await this.#d.operators.count()) > 0) return undefined;
    const password = randomPassword();
    // The drop is written first: a crash before the insert leaves no admin, and the next
    // start bootstraps again (overwriting the file), so the password is never lost.
    await this.#d.initialPassword.write(password);
    const now = this.#d.clock.now();
    await this.#d.operators.insert({
      id: newId<OperatorId>("op"),
      username: "admin",
      passwordHash: await hashPassword(password),
      role: "admin",
      mustChangePassword: true,
      createdAt: now,
      updatedAt: now,
    });
    this.#d.bus.emit("operator.created", { operator: "admin", by: "bootstrap" });
    this.#d.log.info(
      { operator: "admin" },
      "first admin created; its one-time password was printed and written to the data directory",
    );
    return { username: "admin", password };
  }

  async login(input: {
    username: string;
    password: string;
    remote: string;
    scopes?: readonly Scope[] | undefined;
    ttlSeconds?: number | undefined;
    label?: string | undefined;
  }): Promise<IssuedToken> {
    const operator = await this.#d.operators.findByUsername(input.username);
    const ok = await verifyPassword(operator?.passwordHash, input.password);
    if (operator === undefined || !ok) {
      this.#d.bus.emit("auth.failed", {
        username: input.username,
        remote: input.remote,
        reason: operator === undefined ? "unknown_operator" : "bad_password",
      });
      throw new VigilError("AUTH_BAD_CREDENTIALS", "wrong operator name or password", {
        hint: "Check the name and password. The first admin's password is in <data-dir>/initial-admin-password until it is changed.",
      });
    }
    const allowed = ROLE_SCOPES[operator.role];
    const scopes = input.scopes ?? allowed;
    const refused = scopes.filter((s) => !allowed.includes(s));
    if (refused.length > 0) {
      throw new VigilError("AUTH_SCOPE_MISSING", `role ${operator.role} may not hold scope(s): ${refused.join(", ")}`, {
        hint: `Ask for a subset of: ${allowed.join(", ")}.`,
      });
    }
    const issued = await this.#issue(operator, [...new Set(scopes)], input.ttlSeconds, input.label ?? "login");
    this.#d.bus.emit("auth.succeeded", { operator: operator.username, tokenId: issued.tokenId, remote: input.remote });
    return issued;
  }

  async #issue(operator: OperatorRecord, scopes: Scope[], ttlSeconds: number | undefined, label: string): Promise<IssuedToken> {
    const tokenId = newId<TokenId>("tok");
    const secret = randomSecret();
    const now = this.#d.clock.now();
    const expiresAt = (now + (ttlSeconds === undefined ? this.#d.tokenTtlMs : ttlSeconds * 1000)) as Millis;
    await this.#d.tokens.insert({
      id: tokenId,
      operatorId: operator.id,
      secretHash: secretDigest(secret),
      scopes,
      label,
      createdAt: now,
      expiresAt,
      revokedAt: null,
    });
    this.#d.bus.emit("token.issued", { operator: operator.username, tokenId, scopes, expiresAt: iso(expiresAt) });
    return {
      token: `${TOKEN_PREFIX}.${tokenId}.${secret}`,
      tokenId,
      operator: operator.username,
      scopes,
      expiresAt,
      mustChangePassword: operator.mustChangePassword,
    };
  }

  /** Resolves a bearer token to its principal, or throws an AUTH_* error. */
  async authenticate(token: string): Promise<Principal> {
    const parts = token.split(".");
    if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || !parts[1] || !parts[2] || token.length > 200) {
      throw invalidToken();
    }
    const record = await this.#d.tokens.findById(parts[1] as TokenId);
    if (record === undefined || !digestsEqual(record.secretHash, secretDigest(parts[2]))) throw invalidToken();
    if (record.revokedAt !== null) {
      throw new VigilError("AUTH_TOKEN_REVOKED", "this API token has been revoked", { hint: "Log in again: `vigil login`." });
    }
    if (record.expiresAt <= this.#d.clock.now()) {
      throw new VigilError("AUTH_TOKEN_EXPIRED", `this API token expired at ${iso(record.expiresAt)}`, {
        hint: "Log in again: `vigil login`.",
      });
    }
    const operator = await this.#d.operators.findById(record.operatorId);
    if (operator === undefined) throw invalidToken();
    return {
      operatorId: operator.id,
      username: operator.username,
      role: operator.role,
      tokenId: record.id,
      scopes: record.scopes,
      expiresAt: record.expiresAt,
      mustChangePassword: operator.mustChangePassword,
    };
  }

  async changePassword(principal: Principal, currentPassword: string, newPassword: string): Promise<void> {
    const operator = await this.#d.operators.findById(principal.operatorId);
    if (operator === undefined || !(await verifyPassword(operator.passwordHash, currentPassword))) {
      throw new VigilError("AUTH_BAD_CREDENTIALS", "the current password is wrong", {
        hint: "Give the password you logged in with.",
      });
    }
    if (newPassword.length < MIN_PASSWORD_LENGTH) {
      throw new VigilError("OPERATOR_PASSWORD_WEAK", `the new password must have at least ${MIN_PASSWORD_LENGTH} characters`, {
        hint: "Choose a longer passphrase.",
      });
    }
    if (newPassword === currentPassword) {
      throw new VigilError("OPERATOR_PASSWORD_WEAK", "the new password must differ from the current one", {
        hint: "Choose a password you have not used here.",
      });
    }
    await this.#d.operators.updatePassword(operator.id, await hashPassword(newPassword), false, this.#d.clock.now());
    if (operator.mustChangePassword) await this.#d.initialPassword.remove();
    this.#d.bus.emit("operator.password_changed", { operator: operator.username });
  }

  async revokeToken(principal: Principal, tokenId: TokenId): Promise<boolean> {
    const record = await this.#d.tokens.findById(tokenId);
    if (record === undefined || record.operatorId !== principal.operatorId) return false;
    const revoked = await this.#d.tokens.revoke(tokenId, this.#d.clock.now());
    if (revoked) this.#d.bus.emit("token.revoked", { operator: principal.username, tokenId });
    return revoked;
  }
}

function invalidToken(): VigilError {
  return new VigilError("AUTH_TOKEN_INVALID", "the API token is malformed, unknown or has been tampered with", {
    hint: "Log in again: `vigil login`.",
  });
}
