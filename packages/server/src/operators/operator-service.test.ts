import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pino } from "pino";
import { InProcessBus, ManualClock, isVigilError } from "../core/index.js";
import type { SignalMap } from "../signals/index.js";
import { openSqliteStore } from "../store/index.js";
import { OperatorService } from "./operator-service.js";

async function setup() {
  const store = openSqliteStore(join(mkdtempSync(join(tmpdir(), "vigil-ops-")), "vigil.db"), pino({ level: "silent" }));
  const clock = new ManualClock(Date.UTC(2026, 10, 22));
  const bus = new InProcessBus<SignalMap>();
  const signals: { name: string; payload: unknown }[] = [];
  bus.onAny((name, payload) => signals.push({ name, payload }));
  const drop = { written: [] as string[], removed: 0 };
  const service = new OperatorService({
    operators: store.operators,
    tokens: store.tokens,
    bus,
    clock,
    log: pino({ level: "silent" }),
    initialPassword: { write: async (p) => void drop.written.push(p), remove: async () => void drop.removed++ },
    tokenTtlMs: 3600_000,
  });
  return { store, clock, service, signals, drop };
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
