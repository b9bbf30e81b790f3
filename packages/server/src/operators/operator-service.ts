import type { Scope } from "@vigil/contract";
import { VigilError, iso, newId, type Clock, type Logger, type Millis, type OperatorId, type TokenId } from "../core/index.js";
import { digestsEqual, hashPassword, randomPassword, randomSecret, secretDigest, verifyPassword } from "../identity/index.js";
import type { SignalBus } from "../signals/index.js";
import { LoginChallenges, type LoginChallenge, type PendingLogin } from "./login-challenges.js";
import { LoginThrottle, type ThrottleSettings } from "./login-throttle.js";
import { ALL_SITES, roleRequiresMfa, roleScopes } from "./permissions.js";
import type { MfaRepository, OperatorRecord, OperatorRepository, Role, SessionRepository, TokenRepository } from "./ports.js";
import { SecondFactors, badFactor, type FactorAnswer, type SecondFactorDeps } from "./second-factors.js";

/** Where the first admin's one-time password is handed over (a 0600 file in the data dir). */
export interface InitialPasswordDrop {
  write(password: string): Promise<void>;
  remove(): Promise<void>;
}

export const MIN_PASSWORD_LENGTH = 12;
const TOKEN_PREFIX = "vgl1";
const SESSION_PREFIX = "vgs1";

/** What an authenticated request knows about its caller. */
export interface Principal {
  readonly operatorId: OperatorId;
  readonly username: string;
  readonly role: Role;
  readonly tokenId: TokenId;
  readonly scopes: readonly Scope[];
  readonly expiresAt: Millis;
  readonly mustChangePassword: boolean;
  readonly sites: readonly string[];
  /** Whether this token or session was opened with a second factor. */
  readonly mfa: boolean;
  /** The role needs a second factor and this token or session was opened without one. */
  readonly mfaEnrollmentRequired: boolean;
  readonly via: "token" | "session";
  /** Sessions only: SHA-256 of the session's CSRF token. */
  readonly csrfHash?: string | undefined;
}

export interface IssuedToken {
  readonly token: string;
  readonly tokenId: TokenId;
  readonly operator: string;
  readonly scopes: readonly Scope[];
  readonly expiresAt: Millis;
  readonly mustChangePassword: boolean;
  readonly mfaEnrollmentRequired: boolean;
}

export interface IssuedSession {
  /** The cookie value `vgs1.<id>.<secret>`: shown once, stored only as a hash. */
  readonly cookie: string;
  readonly csrfToken: string;
  readonly sessionId: string;
  readonly operator: string;
  readonly role: Role;
  readonly expiresAt: Millis;
  readonly mustChangePassword: boolean;
  readonly mfaEnrollmentRequired: boolean;
}

export interface OperatorServiceDeps {
  readonly operators: OperatorRepository;
  readonly tokens: TokenRepository;
  readonly mfa: MfaRepository;
  readonly sessions: SessionRepository;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  readonly initialPassword: InitialPasswordDrop;
  readonly tokenTtlMs: number;
  readonly sessionTtlMs: number;
  readonly sessionIdleMs: number;
  readonly challengeTtlMs: number;
  readonly throttle: ThrottleSettings;
  readonly requireMfaForAuditors: boolean;
  readonly sealed: SecondFactorDeps["sealed"];
  readonly relyingParty: SecondFactorDeps["relyingParty"];
}

/** The credentials of a login's first step, and what it asks for. */
export interface LoginInput {
  readonly username: string;
  readonly password: string;
  readonly remote: string;
  readonly totp?: string | undefined;
  readonly recoveryCode?: string | undefined;
  readonly scopes?: readonly Scope[] | undefined;
  readonly ttlSeconds?: number | undefined;
  readonly label?: string | undefined;
}

/**
 * Operator accounts and API tokens. A token is `vgl1.<tokenId>.<secret>`; only the
 * SHA-256 of its secret is stored, and it is compared in constant time.
 */
export class OperatorService {
  readonly #d: OperatorServiceDeps;
  readonly #throttle: LoginThrottle;
  readonly #challenges: LoginChallenges;
  /** The operator's second factors (enrolment and verification). */
  readonly factors: SecondFactors;

  constructor(deps: OperatorServiceDeps) {
    this.#d = deps;
    this.#throttle = new LoginThrottle(deps.throttle, deps.clock);
    this.#challenges = new LoginChallenges(deps.clock, deps.challengeTtlMs);
    this.factors = new SecondFactors({
      mfa: deps.mfa,
      sealed: deps.sealed,
      clock: deps.clock,
      bus: deps.bus,
      relyingParty: deps.relyingParty,
    });
  }

  get throttleState(): { accounts: number; sources: number } {
    return this.#throttle.tracked;
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
      sites: [ALL_SITES],
      disabledAt: null,
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

  /**
   * Logs in for an API token. With a second factor enrolled, the password alone yields no
   * token: AUTH_MFA_REQUIRED with a challenge (answer it with `answerChallenge` or
   * `answerWebAuthn`), unless the code came with the password.
   */
  async login(input: LoginInput): Promise<IssuedToken> {
    const operator = await this.#firstFactor(input);
    const scopes = this.#scopesFor(operator, input.scopes);
    const mfa = await this.#secondFactorAtLogin(operator, input, {
      purpose: "token",
      scopes,
      ttlSeconds: input.ttlSeconds,
      label: input.label,
    });
    return this.#finishToken(
      operator,
      { purpose: "token", scopes, ttlSeconds: input.ttlSeconds, label: input.label },
      mfa,
      input.remote,
    );
  }

  /** Logs in for a console session (cookie); the same factors and throttling as `login`. */
  async openSession(input: LoginInput): Promise<IssuedSession> {
    const operator = await this.#firstFactor(input);
    const mfa = await this.#secondFactorAtLogin(operator, input, { purpose: "session" });
    return this.#finishSession(operator, mfa, input.remote);
  }

  /** The second step: a TOTP or recovery code for a challenge from the first. */
  async answerChallenge(
    challengeId: string,
    answer: FactorAnswer,
    remote: string,
    purpose: PendingLogin["purpose"],
  ): Promise<{ operator: OperatorRecord; pending: PendingLogin }> {
    const { challenge, operator } = await this.#challenge(challengeId, purpose);
    if (!(await this.factors.verify(operator, answer))) {
      challenge.attempts++;
      this.#secondFactorFailed(operator, remote);
    }
    return this.#challengeAnswered(challenge, operator, remote);
  }

  /** WebAuthn options for a challenge (the browser signs them with a registered key). */
  async webauthnOptions(challengeId: string): Promise<Record<string, unknown>> {
    const c = this.#challenges.get(challengeId);
    if (c === undefined) throw challengeInvalid();
    const operator = await this.#d.operators.findById(c.operatorId);
    if (operator === undefined) throw challengeInvalid();
    const { options, challenge } = await this.factors.webauthnLoginOptions(operator);
    c.webauthnChallenge = challenge;
    return options;
  }

  async answerWebAuthn(
    challengeId: string,
    response: Record<string, unknown>,
    remote: string,
    purpose: PendingLogin["purpose"],
  ): Promise<{ operator: OperatorRecord; pending: PendingLogin }> {
    const { challenge, operator } = await this.#challenge(challengeId, purpose);
    if (challenge.webauthnChallenge === undefined) {
      throw new VigilError("AUTH_MFA_CHALLENGE_INVALID", "no WebAuthn options were asked for this challenge", {
        hint: "Ask for options first (POST /api/v1/auth/webauthn/options), then sign them.",
      });
    }
    try {
      await this.factors.verifyWebAuthn(operator, response, challenge.webauthnChallenge);
    } catch (error) {
      challenge.attempts++;
      challenge.webauthnChallenge = undefined;
      this.#secondFactorFailed(operator, remote, error);
    }
    return this.#challengeAnswered(challenge, operator, remote);
  }

  /** Issues the token a completed challenge asked for. */
  finishToken(operator: OperatorRecord, pending: PendingLogin, remote: string): Promise<IssuedToken> {
    return this.#finishToken(operator, pending, true, remote);
  }

  finishSession(operator: OperatorRecord, remote: string): Promise<IssuedSession> {
    return this.#finishSession(operator, true, remote);
  }

  async #challenge(
    challengeId: string,
    purpose: PendingLogin["purpose"],
  ): Promise<{ challenge: LoginChallenge; operator: OperatorRecord }> {
    const challenge = this.#challenges.get(challengeId);
    if (challenge === undefined || challenge.pending.purpose !== purpose) throw challengeInvalid();
    const operator = await this.#d.operators.findById(challenge.operatorId);
    if (operator === undefined || operator.disabledAt !== null) throw challengeInvalid();
    const lock = this.#throttle.check(operator.username, challenge.remote);
    if (lock !== undefined) throw this.#locked(operator.username, challenge.remote, lock.until, lock.kind);
    return { challenge, operator };
  }

  #challengeAnswered(
    challenge: LoginChallenge,
    operator: OperatorRecord,
    remote: string,
  ): { operator: OperatorRecord; pending: PendingLogin } {
    this.#challenges.close(challenge.id);
    this.#throttle.succeed(operator.username);
    this.#d.log.debug({ operator: operator.username, remote }, "second factor accepted");
    return { operator, pending: challenge.pending };
  }

  /** Throttle, then the password (argon2id, also for unknown names so timing tells nothing). */
  async #firstFactor(input: LoginInput): Promise<OperatorRecord> {
    const lock = this.#throttle.check(input.username, input.remote);
    if (lock !== undefined) {
      this.#d.bus.emit("auth.failed", { username: input.username, remote: input.remote, reason: "locked" });
      throw this.#locked(input.username, input.remote, lock.until, lock.kind, false);
    }
    const operator = await this.#d.operators.findByUsername(input.username);
    const ok = await verifyPassword(operator?.passwordHash, input.password);
    if (operator === undefined || !ok || operator.disabledAt !== null) {
      this.#d.bus.emit("auth.failed", {
        username: input.username,
        remote: input.remote,
        reason: operator === undefined ? "unknown_operator" : !ok ? "bad_password" : "disabled",
      });
      const locked = this.#throttle.fail(input.username, input.remote);
      if (locked !== undefined) this.#announceLock(input.username, input.remote, locked.until, locked.kind);
      throw new VigilError("AUTH_BAD_CREDENTIALS", "wrong operator name or password", {
        hint: "Check the name and password. The first admin's password is in <data-dir>/initial-admin-password until it is changed.",
      });
    }
    return operator;
  }

  /**
   * True when a second factor was given and is right; false when the operator has none
   * enrolled yet (the token then only serves enrolment, for roles that need MFA); throws
   * AUTH_MFA_REQUIRED (with a challenge) or AUTH_MFA_INVALID otherwise.
   */
  async #secondFactorAtLogin(operator: OperatorRecord, input: LoginInput, pending: PendingLogin): Promise<boolean> {
    if (!(await this.factors.enrolled(operator.id))) {
      this.#throttle.succeed(operator.username);
      return false;
    }
    const answer: FactorAnswer | undefined =
      input.totp !== undefined
        ? { totp: input.totp }
        : input.recoveryCode !== undefined
          ? { recoveryCode: input.recoveryCode }
          : undefined;
    if (answer === undefined) {
      const challenge = this.#challenges.open({
        operatorId: operator.id,
        username: operator.username,
        remote: input.remote,
        pending,
      });
      this.#d.bus.emit("auth.mfa_challenged", { operator: operator.username, remote: input.remote });
      throw new VigilError("AUTH_MFA_REQUIRED", "the password is right; a second factor is needed", {
        hint: "Answer the challenge with a TOTP code or a recovery code (POST /api/v1/auth/login/mfa), or with your security key.",
        details: {
          challenge: {
            id: challenge.id,
            methods: await this.factors.methods(operator.id),
            expiresAt: iso(challenge.expiresAt),
          },
        },
      });
    }
    if (!(await this.factors.verify(operator, answer))) this.#secondFactorFailed(operator, input.remote);
    this.#throttle.succeed(operator.username);
    return true;
  }

  #secondFactorFailed(operator: OperatorRecord, remote: string, cause?: unknown): never {
    this.#d.bus.emit("auth.failed", { username: operator.username, remote, reason: "bad_second_factor" });
    const locked = this.#throttle.fail(operator.username, remote);
    if (locked !== undefined) this.#announceLock(operator.username, remote, locked.until, locked.kind);
    if (cause instanceof VigilError) throw cause;
    throw badFactor("the second factor is wrong or was already used");
  }

  #announceLock(username: string, remote: string, until: number, kind: "account" | "source"): void {
    this.#d.bus.emit("auth.locked", { target: username, remote, kind, until: iso(until) });
    this.#d.log.warn(
      { operator: username.slice(0, 64), remote, kind, until: iso(until) },
      "login locked after repeated failures",
    );
  }

  #locked(username: string, remote: string, until: number, kind: "account" | "source", announce = false): VigilError {
    if (announce) this.#announceLock(username, remote, until, kind);
    const seconds = Math.max(1, Math.ceil((until - this.#d.clock.now()) / 1000));
    return new VigilError(
      "AUTH_LOCKED",
      `too many failed logins ${kind === "account" ? "for this operator" : "from this address"}; try again in ${seconds} s`,
      {
        hint: "Wait, then try again; each further failure doubles the wait. An admin can see the attempts in the audit log.",
        details: { retryAfterSeconds: seconds },
      },
    );
  }

  #scopesFor(operator: OperatorRecord, asked: readonly Scope[] | undefined): Scope[] {
    const allowed = roleScopes(operator.role);
    const scopes = asked ?? allowed;
    const refused = scopes.filter((s) => !allowed.includes(s));
    if (refused.length > 0) {
      throw new VigilError("AUTH_SCOPE_MISSING", `role ${operator.role} may not hold scope(s): ${refused.join(", ")}`, {
        hint: `Ask for a subset of: ${allowed.join(", ")}.`,
      });
    }
    return [...new Set(scopes)];
  }

  async #finishToken(operator: OperatorRecord, pending: PendingLogin, mfa: boolean, remote: string): Promise<IssuedToken> {
    const scopes = (pending.scopes as Scope[] | undefined) ?? roleScopes(operator.role);
    const issued = await this.#issue(operator, scopes, pending.ttlSeconds, pending.label ?? "login", mfa);
    this.#d.bus.emit("auth.succeeded", { operator: operator.username, tokenId: issued.tokenId, remote });
    return issued;
  }

  async #finishSession(operator: OperatorRecord, mfa: boolean, remote: string): Promise<IssuedSession> {
    const id = newId("ses", 12);
    const secret = randomSecret();
    const csrfToken = randomSecret();
    const now = this.#d.clock.now();
    const expiresAt = (now + this.#d.sessionTtlMs) as Millis;
    await this.#d.sessions.insert({
      id,
      operatorId: operator.id,
      secretHash: secretDigest(secret),
      csrfHash: secretDigest(csrfToken),
      mfa,
      remote,
      createdAt: now,
      expiresAt,
      lastSeenAt: now,
      revokedAt: null,
    });
    this.#d.bus.emit("session.opened", { operator: operator.username, sessionId: id, remote, mfa });
    return {
      cookie: `${SESSION_PREFIX}.${id}.${secret}`,
      csrfToken,
      sessionId: id,
      operator: operator.username,
      role: operator.role,
      expiresAt,
      mustChangePassword: operator.mustChangePassword,
      mfaEnrollmentRequired: !mfa && roleRequiresMfa(operator.role, this.#d.requireMfaForAuditors),
    };
  }

  /** A further API token for an authenticated operator (scripts, CI): never more than it holds. */
  async createToken(
    principal: Principal,
    input: { scopes?: readonly Scope[] | undefined; ttlSeconds?: number | undefined; label?: string | undefined },
  ): Promise<IssuedToken> {
    const operator = await this.#operatorOf(principal);
    const scopes = this.#scopesFor(operator, input.scopes ?? principal.scopes);
    const refused = scopes.filter((s) => !principal.scopes.includes(s));
    if (refused.length > 0) {
      throw new VigilError("AUTH_SCOPE_MISSING", `this token or session does not hold: ${refused.join(", ")}`, {
        hint: `Ask for a subset of: ${principal.scopes.join(", ")}.`,
      });
    }
    return this.#issue(operator, scopes, input.ttlSeconds, input.label ?? "api", principal.mfa);
  }

  async #issue(
    operator: OperatorRecord,
    scopes: Scope[],
    ttlSeconds: number | undefined,
    label: string,
    mfa: boolean,
  ): Promise<IssuedToken> {
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
      mfa,
    });
    this.#d.bus.emit("token.issued", { operator: operator.username, tokenId, scopes, expiresAt: iso(expiresAt) });
    return {
      token: `${TOKEN_PREFIX}.${tokenId}.${secret}`,
      tokenId,
      operator: operator.username,
      scopes,
      expiresAt,
      mustChangePassword: operator.mustChangePassword,
      mfaEnrollmentRequired: !mfa && roleRequiresMfa(operator.role, this.#d.requireMfaForAuditors),
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
    if (operator.disabledAt !== null) throw disabled();
    return {
      operatorId: operator.id,
      username: operator.username,
      role: operator.role,
      tokenId: record.id,
      scopes: record.scopes,
      expiresAt: record.expiresAt,
      mustChangePassword: operator.mustChangePassword,
      sites: operator.sites,
      mfa: record.mfa,
      mfaEnrollmentRequired: !record.mfa && roleRequiresMfa(operator.role, this.#d.requireMfaForAuditors),
      via: "token",
    };
  }

  /**
   * Resolves a console session cookie. Sessions end at their absolute expiry or after
   * `sessionIdleMs` without a request, whichever comes first.
   */
  async authenticateSession(cookie: string): Promise<Principal> {
    const parts = cookie.split(".");
    if (parts.length !== 3 || parts[0] !== SESSION_PREFIX || !parts[1] || !parts[2] || cookie.length > 200) {
      throw invalidSession();
    }
    const record = await this.#d.sessions.findById(parts[1]);
    if (record === undefined || !digestsEqual(record.secretHash, secretDigest(parts[2]))) throw invalidSession();
    const now = this.#d.clock.now();
    if (record.revokedAt !== null) {
      throw new VigilError("AUTH_TOKEN_REVOKED", "this console session has ended", { hint: "Log in again." });
    }
    if (record.expiresAt <= now || now - record.lastSeenAt > this.#d.sessionIdleMs) {
      throw new VigilError("AUTH_TOKEN_EXPIRED", "this console session has expired", { hint: "Log in again." });
    }
    const operator = await this.#d.operators.findById(record.operatorId);
    if (operator === undefined) throw invalidSession();
    if (operator.disabledAt !== null) throw disabled();
    if (now - record.lastSeenAt > 10_000) await this.#d.sessions.touch(record.id, now);
    return {
      operatorId: operator.id,
      username: operator.username,
      role: operator.role,
      tokenId: record.id as TokenId,
      scopes: roleScopes(operator.role),
      expiresAt: record.expiresAt,
      mustChangePassword: operator.mustChangePassword,
      sites: operator.sites,
      mfa: record.mfa,
      mfaEnrollmentRequired: !record.mfa && roleRequiresMfa(operator.role, this.#d.requireMfaForAuditors),
      via: "session",
      csrfHash: record.csrfHash,
    };
  }

  async closeSession(principal: Principal): Promise<void> {
    if (principal.via !== "session") return;
    if (await this.#d.sessions.revoke(principal.tokenId, this.#d.clock.now())) {
      this.#d.bus.emit("session.closed", { operator: principal.username, sessionId: principal.tokenId });
    }
  }

  /** The operator behind a principal, as stored now. */
  async #operatorOf(principal: Principal): Promise<OperatorRecord> {
    const operator = await this.#d.operators.findById(principal.operatorId);
    if (operator === undefined || operator.disabledAt !== null) throw disabled();
    return operator;
  }

  /**
   * The operator behind a principal that may change second factors: once one is enrolled,
   * only a token or session opened with it may (a stolen password alone cannot swap it).
   */
  async #enrolling(principal: Principal): Promise<OperatorRecord> {
    const operator = await this.#operatorOf(principal);
    if (!principal.mfa && (await this.factors.enrolled(operator.id))) {
      throw new VigilError("AUTH_MFA_REQUIRED", "changing second factors needs a login made with one", {
        hint: "Log in again with your TOTP code, recovery code or security key, then retry.",
      });
    }
    return operator;
  }

  /** Step 1 of TOTP enrolment for the caller. */
  async startTotpEnrolment(principal: Principal): Promise<{ secret: string; otpauthUri: string }> {
    return this.factors.startTotp(await this.#enrolling(principal));
  }

  /**
   * Step 2: confirms with a first code. The token or session that enrolled now counts as
   * opened with a second factor (the code just proved it).
   */
  async confirmTotpEnrolment(principal: Principal, code: string): Promise<{ recoveryCodes: string[] }> {
    const operator = await this.#enrolling(principal);
    const result = await this.factors.confirmTotp(operator, code);
    await this.#markMfa(principal);
    return result;
  }

  async webauthnRegistrationOptions(principal: Principal): Promise<Record<string, unknown>> {
    return this.factors.webauthnRegistrationOptions(await this.#enrolling(principal));
  }

  async registerWebAuthn(
    principal: Principal,
    response: Record<string, unknown>,
    name: string | undefined,
  ): Promise<{ credentialId: string; recoveryCodes: string[] }> {
    const result = await this.factors.registerWebAuthn(await this.#enrolling(principal), response, name);
    await this.#markMfa(principal);
    return result;
  }

  async newRecoveryCodes(principal: Principal): Promise<string[]> {
    return this.factors.newRecoveryCodes(await this.#operatorOf(principal));
  }

  async #markMfa(principal: Principal): Promise<void> {
    if (principal.via === "session") await this.#d.sessions.markMfa(principal.tokenId);
    else await this.#d.tokens.markMfa(principal.tokenId);
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

function challengeInvalid(): VigilError {
  return new VigilError("AUTH_MFA_CHALLENGE_INVALID", "the login challenge is unknown, expired or used up", {
    hint: "Log in again with your password to get a new challenge.",
  });
}

function invalidSession(): VigilError {
  return new VigilError("AUTH_TOKEN_INVALID", "the session cookie is malformed, unknown or has been tampered with", {
    hint: "Log in again.",
  });
}

function disabled(): VigilError {
  return new VigilError("AUTH_TOKEN_REVOKED", "this operator account is disabled", {
    hint: "Ask an admin to enable the account again.",
  });
}

function invalidToken(): VigilError {
  return new VigilError("AUTH_TOKEN_INVALID", "the API token is malformed, unknown or has been tampered with", {
    hint: "Log in again: `vigil login`.",
  });
}
