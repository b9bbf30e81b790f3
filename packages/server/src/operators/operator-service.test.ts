import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pino } from "pino";
import { InProcessBus, ManualClock, isVigilError } from "../core/index.js";
import type { SignalMap } from "../signals/index.js";
import Database from "better-sqlite3";
import { FileMasterKey, SealedFields, totpCode } from "../identity/index.js";
import { openSqliteStore } from "../store/index.js";
import { OperatorService } from "./operator-service.js";

async function setup(options: { threshold?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "vigil-ops-"));
  const store = openSqliteStore(join(dir, "vigil.db"), pino({ level: "silent" }));
  const clock = new ManualClock(Date.UTC(2026, 10, 22));
  const bus = new InProcessBus<SignalMap>();
  const signals: { name: string; payload: unknown }[] = [];
  bus.onAny((name, payload) => signals.push({ name, payload }));
  const drop = { written: [] as string[], removed: 0 };
  const master = await FileMasterKey.open(join(dir, "master.key"), { create: true });
  const sealed = new SealedFields(master, store.dataKeys, clock);
  const service = new OperatorService({
    operators: store.operators,
    tokens: store.tokens,
    mfa: store.mfa,
    sessions: store.sessions,
    bus,
    clock,
    log: pino({ level: "silent" }),
    initialPassword: { write: async (p) => void drop.written.push(p), remove: async () => void drop.removed++ },
    tokenTtlMs: 3600_000,
    sessionTtlMs: 8 * 3600_000,
    sessionIdleMs: 30 * 60_000,
    challengeTtlMs: 300_000,
    requireMfaForAuditors: false,
    throttle: { threshold: options.threshold ?? 5, baseLockMs: 30_000, maxLockMs: 900_000, windowMs: 900_000, maxEntries: 100 },
    sealed: () => sealed.field("operator_mfa"),
    relyingParty: () => ({ id: "localhost", name: "Vigil", origins: ["https://localhost:8443"] }),
  });
  return { store, clock, service, signals, drop, sealed };
}

test("bootstrap creates one admin with a one-time password, once; only its argon2id hash is stored", async () => {
  const { store, service, drop } = await setup();
  const created = await service.bootstrap();
  assert.ok(created);
  assert.equal(created.username, "admin");
  assert.ok(created.password.length >= 20);
  assert.deepEqual(drop.written, [created.password]);
  assert.equal(await service.bootstrap(), undefined, "second start creates nothing");
  const admin = await store.operators.findByUsername("admin");
  assert.match(admin?.passwordHash ?? "", /^\$argon2id\$/);
  assert.ok(!admin?.passwordHash.includes(created.password));
  assert.equal(admin?.mustChangePassword, true);
});

test("login issues a token whose secret is stored only as a hash; authenticate resolves it", async () => {
  const { store, service, signals } = await setup();
  const { password } = (await service.bootstrap())!;
  const issued = await service.login({ username: "admin", password, remote: "test" });
  assert.match(issued.token, /^vgl1\.tok_[\w-]+\.[\w-]{43}$/);
  const record = await store.tokens.findById(issued.tokenId);
  const secret = issued.token.split(".")[2]!;
  assert.ok(record && !record.secretHash.includes(secret) && record.secretHash.length === 64);
  const principal = await service.authenticate(issued.token);
  assert.equal(principal.username, "admin");
  assert.deepEqual([...principal.scopes], ["read", "write", "admin"]);
  assert.ok(signals.some((s) => s.name === "auth.succeeded"));
});

test("wrong password and unknown operator both fail the same way, and raise auth.failed", async () => {
  const { service, signals } = await setup();
  await service.bootstrap();
  for (const username of ["admin", "nobody"]) {
    await assert.rejects(service.login({ username, password: "guess", remote: "10.0.0.9" }), (e: unknown) =>
      isVigilError(e, "AUTH_BAD_CREDENTIALS"),
    );
  }
  const failed = signals.filter((s) => s.name === "auth.failed").map((s) => (s.payload as { reason: string }).reason);
  assert.deepEqual(failed, ["bad_password", "unknown_operator"]);
});

test("a tampered token is AUTH_TOKEN_INVALID; an expired one AUTH_TOKEN_EXPIRED; a revoked one AUTH_TOKEN_REVOKED", async () => {
  const { service, clock } = await setup();
  const { password } = (await service.bootstrap())!;
  const issued = await service.login({ username: "admin", password, remote: "t", ttlSeconds: 600 });
  const [prefix, id, secret] = issued.token.split(".") as [string, string, string];
  const flipped = `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`;
  for (const bad of [
    `${prefix}.${id}.${flipped}`,
    `${prefix}.tok_unknown.${secret}`,
    "vgl1.only-two",
    "Bearer x",
    "",
    `${prefix}.${id}.${secret}.extra`,
  ]) {
    await assert.rejects(service.authenticate(bad), (e: unknown) => isVigilError(e, "AUTH_TOKEN_INVALID"), `accepted ${bad}`);
  }
  clock.advance(599_000);
  await service.authenticate(issued.token);
  clock.advance(1_000);
  await assert.rejects(service.authenticate(issued.token), (e: unknown) => isVigilError(e, "AUTH_TOKEN_EXPIRED"));

  const second = await service.login({ username: "admin", password, remote: "t" });
  const principal = await service.authenticate(second.token);
  assert.equal(await service.revokeToken(principal, second.tokenId), true);
  await assert.rejects(service.authenticate(second.token), (e: unknown) => isVigilError(e, "AUTH_TOKEN_REVOKED"));
});

test("scopes: a token carries only what was asked, and never more than the role allows", async () => {
  const { service } = await setup();
  const { password } = (await service.bootstrap())!;
  const readOnly = await service.login({ username: "admin", password, remote: "t", scopes: ["read"] });
  assert.deepEqual([...(await service.authenticate(readOnly.token)).scopes], ["read"]);
});

test("changing the one-time password: weak or wrong is refused and changes nothing; success removes the drop", async () => {
  const { service, drop, store } = await setup();
  const { password } = (await service.bootstrap())!;
  const principal = await service.authenticate((await service.login({ username: "admin", password, remote: "t" })).token);
  const hashBefore = (await store.operators.findByUsername("admin"))?.passwordHash;
  await assert.rejects(service.changePassword(principal, password, "short"), (e: unknown) =>
    isVigilError(e, "OPERATOR_PASSWORD_WEAK"),
  );
  await assert.rejects(service.changePassword(principal, password, password), (e: unknown) =>
    isVigilError(e, "OPERATOR_PASSWORD_WEAK"),
  );
  await assert.rejects(service.changePassword(principal, "not-the-password", "a long enough passphrase"), (e: unknown) =>
    isVigilError(e, "AUTH_BAD_CREDENTIALS"),
  );
  assert.equal((await store.operators.findByUsername("admin"))?.passwordHash, hashBefore);
  assert.equal(drop.removed, 0);
  await service.changePassword(principal, password, "a long enough passphrase");
  assert.equal(drop.removed, 1);
  assert.equal(
    (
      await service.authenticate(
        (await service.login({ username: "admin", password: "a long enough passphrase", remote: "t" })).token,
      )
    ).mustChangePassword,
    false,
  );
  await assert.rejects(service.login({ username: "admin", password, remote: "t" }), (e: unknown) =>
    isVigilError(e, "AUTH_BAD_CREDENTIALS"),
  );
});

async function enrolledAdmin(threshold?: number) {
  const ctx = await setup(threshold === undefined ? {} : { threshold });
  const { password } = (await ctx.service.bootstrap())!;
  const first = await ctx.service.login({ username: "admin", password, remote: "t" });
  assert.equal(first.mfaEnrollmentRequired, true, "a fresh admin must enrol a second factor");
  const principal = await ctx.service.authenticate(first.token);
  const newPassword = "a long enough passphrase";
  await ctx.service.changePassword(principal, password, newPassword);
  const { secret, otpauthUri } = await ctx.service.startTotpEnrolment(principal);
  assert.match(otpauthUri, /^otpauth:\/\/totp\/Vigil:admin\?secret=[A-Z2-7]+&issuer=Vigil$/);
  await assert.rejects(ctx.service.confirmTotpEnrolment(principal, "000000"), (e: unknown) =>
    isVigilError(e, "AUTH_MFA_INVALID"),
  );
  const { recoveryCodes } = await ctx.service.confirmTotpEnrolment(principal, await totpCode(secret, ctx.clock.now()));
  assert.equal(recoveryCodes.length, 10);
  assert.equal((await ctx.service.authenticate(first.token)).mfaEnrollmentRequired, false, "the enrolling token is upgraded");
  const code = async () => {
    ctx.clock.advance(30_000);
    return totpCode(secret, ctx.clock.now());
  };
  return { ...ctx, password: newPassword, secret, recoveryCodes, code };
}

function challengeOf(error: unknown): string {
  assert.ok(isVigilError(error, "AUTH_MFA_REQUIRED"), String(error));
  const challenge = error.details?.challenge as { id: string; methods: string[] };
  assert.deepEqual(challenge.methods, ["totp", "recovery-code"]);
  return challenge.id;
}

test("MFA: a correct password alone yields no token, only a challenge; the TOTP code completes it once", async () => {
  const { service, password, code, signals } = await enrolledAdmin();
  const error = await service.login({ username: "admin", password, remote: "10.0.0.1" }).catch((e: unknown) => e);
  const challengeId = challengeOf(error);
  assert.ok(!signals.some((s) => s.name === "auth.succeeded" && (s.payload as { remote: string }).remote === "10.0.0.1"));
  await assert.rejects(service.answerChallenge(challengeId, { totp: "123456" }, "10.0.0.1", "token"), (e: unknown) =>
    isVigilError(e, "AUTH_MFA_INVALID"),
  );
  await assert.rejects(service.answerChallenge(challengeId, { totp: await code() }, "10.0.0.1", "session"), (e: unknown) =>
    isVigilError(e, "AUTH_MFA_CHALLENGE_INVALID"),
  );
  const good = await code();
  const { operator, pending } = await service.answerChallenge(challengeId, { totp: good }, "10.0.0.1", "token");
  const issued = await service.finishToken(operator, pending, "10.0.0.1");
  assert.equal((await service.authenticate(issued.token)).mfa, true);
  await assert.rejects(service.answerChallenge(challengeId, { totp: good }, "10.0.0.1", "token"), (e: unknown) =>
    isVigilError(e, "AUTH_MFA_CHALLENGE_INVALID"),
  );
  // The same code cannot be replayed in a one-step login either (RFC 6238 §5.2).
  await assert.rejects(service.login({ username: "admin", password, remote: "t", totp: good }), (e: unknown) =>
    isVigilError(e, "AUTH_MFA_INVALID"),
  );
  const oneStep = await service.login({ username: "admin", password, remote: "t", totp: await code() });
  assert.equal(oneStep.mfaEnrollmentRequired, false);
});

test("MFA: recovery codes work once each; a challenge dies after five wrong answers", async () => {
  const { service, password, recoveryCodes } = await enrolledAdmin(100);
  const withCode = await service.login({
    username: "admin",
    password,
    remote: "t",
    recoveryCode: recoveryCodes[0]!.toUpperCase(),
  });
  assert.ok(withCode.token);
  await assert.rejects(
    service.login({ username: "admin", password, remote: "t", recoveryCode: recoveryCodes[0]! }),
    (e: unknown) => isVigilError(e, "AUTH_MFA_INVALID"),
  );
  const challengeId = challengeOf(await service.login({ username: "admin", password, remote: "t" }).catch((e: unknown) => e));
  for (let i = 0; i < 5; i++) {
    await assert.rejects(service.answerChallenge(challengeId, { totp: "000000" }, "t", "token"), (e: unknown) =>
      isVigilError(e, "AUTH_MFA_INVALID"),
    );
  }
  await assert.rejects(service.answerChallenge(challengeId, { recoveryCode: recoveryCodes[1]! }, "t", "token"), (e: unknown) =>
    isVigilError(e, "AUTH_MFA_CHALLENGE_INVALID"),
  );
  assert.equal((await service.factors.status((await service.authenticate(withCode.token)).operatorId)).recoveryCodesLeft, 9);
});

test("brute force: the lock engages after the threshold, even the right password is then refused, and the wait doubles", async () => {
  const { service, password, clock, signals, code } = await enrolledAdmin(5);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(service.login({ username: "admin", password: `guess-${i}`, remote: "203.0.113.7" }), (e: unknown) =>
      isVigilError(e, "AUTH_BAD_CREDENTIALS"),
    );
  }
  const locked = await service
    .login({ username: "admin", password, remote: "203.0.113.7", totp: "123456" })
    .catch((e: unknown) => e);
  assert.ok(isVigilError(locked, "AUTH_LOCKED"), String(locked));
  assert.equal(locked.details?.retryAfterSeconds, 30);
  assert.ok(signals.some((s) => s.name === "auth.locked"));
  // From another address too: the lock is on the account.
  await assert.rejects(service.login({ username: "admin", password, remote: "198.51.100.1" }), (e: unknown) =>
    isVigilError(e, "AUTH_LOCKED"),
  );
  clock.advance(31_000);
  // A correct password without the second factor still gets no token.
  const challenge = await service.login({ username: "admin", password, remote: "203.0.113.7" }).catch((e: unknown) => e);
  assert.ok(isVigilError(challenge, "AUTH_MFA_REQUIRED"));
  // One more failure after the threshold: locked again, for twice as long.
  await assert.rejects(service.login({ username: "admin", password: "guess-again", remote: "203.0.113.7" }));
  const again = await service.login({ username: "admin", password, remote: "203.0.113.7" }).catch((e: unknown) => e);
  assert.ok(isVigilError(again, "AUTH_LOCKED"));
  assert.ok(Number(again.details?.retryAfterSeconds) > 30 && Number(again.details?.retryAfterSeconds) <= 60);
  clock.advance(61_000);
  const ok = await service.login({ username: "admin", password, remote: "203.0.113.7", totp: await code() });
  assert.ok(ok.token);
  assert.deepEqual(service.throttleState.accounts, 0, "a success clears the account's failures");
});

test("the TOTP secret is sealed at rest; a recovery code is stored only as a digest", async () => {
  const { store, secret, recoveryCodes } = await enrolledAdmin();
  const raw = JSON.stringify(await store.mfa.getTotp((await store.operators.findByUsername("admin"))!.id));
  assert.ok(!raw.includes(secret));
  assert.match(raw, /vsf1:/);
  const db = new Database(store.location, { readonly: true });
  const dump = JSON.stringify([
    db.prepare("SELECT * FROM operator_mfa").all(),
    db.prepare("SELECT * FROM operator_recovery_codes").all(),
  ]);
  db.close();
  assert.ok(!dump.includes(secret));
  for (const code of recoveryCodes) assert.ok(!dump.includes(code) && !dump.includes(code.replace(/-/g, "")));
});

test("console sessions: the cookie resolves to a principal with its CSRF digest; logout and idle time end it", async () => {
  const { service, password, code, clock } = await enrolledAdmin();
  const session = await service.openSession({ username: "admin", password, remote: "t", totp: await code() });
  assert.match(session.cookie, /^vgs1\.ses_[\w-]+\.[\w-]{43}$/);
  const principal = await service.authenticateSession(session.cookie);
  assert.equal(principal.via, "session");
  assert.equal(principal.mfa, true);
  assert.ok(principal.csrfHash && !principal.csrfHash.includes(session.csrfToken));
  await assert.rejects(service.authenticateSession(`${session.cookie.slice(0, -1)}A`), (e: unknown) =>
    isVigilError(e, "AUTH_TOKEN_INVALID"),
  );
  clock.advance(31 * 60_000);
  await assert.rejects(service.authenticateSession(session.cookie), (e: unknown) => isVigilError(e, "AUTH_TOKEN_EXPIRED"));
  const second = await service.openSession({ username: "admin", password, remote: "t", totp: await code() });
  await service.closeSession(await service.authenticateSession(second.cookie));
  await assert.rejects(service.authenticateSession(second.cookie), (e: unknown) => isVigilError(e, "AUTH_TOKEN_REVOKED"));
});

test("a stale password-only token cannot replace an enrolled second factor", async () => {
  const ctx = await setup();
  const { password } = (await ctx.service.bootstrap())!;
  const stale = await ctx.service.login({ username: "admin", password, remote: "t" });
  const enrolling = await ctx.service.login({ username: "admin", password, remote: "t" });
  const p = await ctx.service.authenticate(enrolling.token);
  const { secret } = await ctx.service.startTotpEnrolment(p);
  await ctx.service.confirmTotpEnrolment(p, await totpCode(secret, ctx.clock.now()));
  await assert.rejects(ctx.service.startTotpEnrolment(await ctx.service.authenticate(stale.token)), (e: unknown) =>
    isVigilError(e, "AUTH_MFA_REQUIRED"),
  );
});
