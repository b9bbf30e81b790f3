import assert from "node:assert/strict";
import { copyFileSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Platform, loadConfig } from "../src/app/index.js";
import { ApiError, callApi } from "../src/cli/client.js";
import { FileMasterKey, SealedFileVault, SealedFields, totpCode } from "../src/identity/index.js";
import { openSqliteStore } from "../src/store/index.js";
import { firstLogin, memoryLogger, runCli, startPlatform, tempDir, type TestPlatform } from "./support.js";
import { SoftwareAuthenticator } from "./webauthn-authenticator.js";
import { pino } from "pino";

/**
 * Operator security end to end on a real Vigil: console sessions with CSRF defence,
 * lockout over HTTP, WebAuthn with a software authenticator, operator management from the
 * CLI, master key rotation across a restart, and a scan of the data directory and logs for
 * any secret left in plaintext.
 */
const work = tempDir("vigil-operators-");
after(() => work.remove());

let t: TestPlatform;
/** Every secret seen during the flow: none may appear in plaintext on disk or in the logs. */
const secrets = new Set<string>();
const remember = (...values: (string | undefined)[]) => {
  for (const v of values) if (v !== undefined && v.length >= 8) secrets.add(v);
};

before(async () => {
  t = await startPlatform({ keepDir: join(work.path, "vigil") });
  remember(t.adminPassword, t.admin.token, t.admin.token?.split(".")[2], t.adminTotpSecret, ...t.adminRecoveryCodes);
});

after(async () => {
  await t.platform.stop("test done").catch(() => undefined);
});

function cookiesOf(setCookie: string | string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
    const [pair] = line.split(";");
    const eq = pair!.indexOf("=");
    out.set(pair!.slice(0, eq), line);
  }
  return out;
}

test("console session: MFA step, HttpOnly+Secure+SameSite=Strict cookie, CSRF required for writes, logout ends it", async () => {
  const first = await t.platform.http.inject({
    method: "POST",
    url: "/api/v1/auth/session",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ username: "admin", password: t.adminPassword }),
  });
  assert.equal(first.statusCode, 401);
  const body = JSON.parse(first.body) as { error: { code: string; challenge: { id: string; methods: string[] } } };
  assert.equal(body.error.code, "AUTH_MFA_REQUIRED");
  assert.equal(first.headers["set-cookie"], undefined, "no cookie before the second factor");
  const done = await t.platform.http.inject({
    method: "POST",
    url: "/api/v1/auth/session/mfa",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ challengeId: body.error.challenge.id, totp: await t.totp() }),
  });
  assert.equal(done.statusCode, 201, done.body);
  const { csrfToken } = JSON.parse(done.body) as { csrfToken: string };
  const cookies = cookiesOf(done.headers["set-cookie"]);
  const session = cookies.get("__Host-vigil-session")!;
  assert.match(session, /; HttpOnly/);
  assert.match(session, /; Secure/);
  assert.match(session, /; SameSite=Strict/);
  assert.match(session, /; Path=\//);
  assert.doesNotMatch(cookies.get("__Host-vigil-csrf")!, /HttpOnly/, "the CSRF cookie is readable by the page (double submit)");
  const cookie = session.split(";")[0]!;
  remember(cookie.split("=")[1], cookie.split(".")[2], csrfToken);

  const whoami = await t.platform.http.inject({ method: "GET", url: "/api/v1/auth/whoami", headers: { cookie } });
  assert.equal(whoami.statusCode, 200);
  assert.equal((JSON.parse(whoami.body) as { via: string }).via, "session");
  const write = (headers: Record<string, string>) =>
    t.platform.http.inject({
      method: "POST",
      url: "/api/v1/devices",
      headers: { cookie, "content-type": "application/json", ...headers },
      payload: JSON.stringify({ id: `csrf-${Object.keys(headers).join("-") || "none"}` }),
    });
  const refusedHeaders: Record<string, string>[] = [
    {},
    { "x-csrf-token": "forged" },
    { "x-csrf-token": csrfToken, origin: "https://evil.example" },
  ];
  for (const headers of refusedHeaders) {
    const refused = await write(headers);
    assert.equal(refused.statusCode, 403, JSON.stringify(headers));
    assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, "AUTH_CSRF_FAILED");
  }
  assert.equal((await write({ "x-csrf-token": csrfToken })).statusCode, 201);
  // Bearer tokens are not affected by CSRF rules.
  await callApi(t.admin, "POST", "/api/v1/devices", { id: "bearer-no-csrf" });

  const logout = await t.platform.http.inject({
    method: "DELETE",
    url: "/api/v1/auth/session",
    headers: { cookie, "x-csrf-token": csrfToken },
  });
  assert.equal(logout.statusCode, 204);
  assert.match(cookiesOf(logout.headers["set-cookie"]).get("__Host-vigil-session")!, /Max-Age=0/);
  assert.equal(
    (await t.platform.http.inject({ method: "GET", url: "/api/v1/auth/whoami", headers: { cookie } })).statusCode,
    401,
  );
});

test("operator management from the CLI: create with role and sites, first login with TOTP, disable ends its tokens, reset MFA", async () => {
  const env = { XDG_CONFIG_HOME: join(work.path, "xdg") };
  const server = ["--server", t.platform.url, "--ca-file", t.platform.caFile];
  // The CLI logs in as admin with a TOTP code.
  const pw = join(work.path, "admin-password");
  (await import("node:fs")).writeFileSync(pw, `${t.adminPassword}\n`);
  const login = await runCli([...server, "login", "--password-file", pw, "--totp-code", await t.totp()], { env });
  assert.equal(login.code, 0, login.stderr);

  const created = await runCli(
    [...server, "--json", "operators", "create", "nora", "--role", "fleet-operator", "--sites", "north"],
    { env },
  );
  assert.equal(created.code, 0, created.stderr);
  const { oneTimePassword } = JSON.parse(created.stdout) as { oneTimePassword: string };
  remember(oneTimePassword);
  const nora = await firstLogin(t.anonymous, {
    username: "nora",
    oneTimePassword,
    newPassword: "nora's own passphrase",
    now: () => t.clock.now(),
  });
  remember(nora.token, nora.totpSecret, ...nora.recoveryCodes, "nora's own passphrase");
  const list = await runCli([...server, "operators", "list"], { env });
  assert.match(list.stdout, /^nora\s+fleet-operator\s+north\s+active\s+totp\s+10$/m);

  // A fleet operator cannot manage operators.
  const denied = await callApi({ ...t.anonymous, token: nora.token }, "GET", "/api/v1/operators").catch((e: unknown) => e);
  assert.ok(denied instanceof ApiError && denied.code === "AUTH_PERMISSION_DENIED");

  assert.equal((await runCli([...server, "operators", "disable", "nora"], { env })).code, 0);
  const revoked = await callApi({ ...t.anonymous, token: nora.token }, "GET", "/api/v1/devices").catch((e: unknown) => e);
  assert.ok(revoked instanceof ApiError && revoked.code === "AUTH_TOKEN_REVOKED");
  const noLogin = await callApi(t.anonymous, "POST", "/api/v1/auth/login", {
    username: "nora",
    password: "nora's own passphrase",
  }).catch((e: unknown) => e);
  assert.ok(noLogin instanceof ApiError && noLogin.code === "AUTH_BAD_CREDENTIALS", "a disabled operator cannot log in");
  assert.equal((await runCli([...server, "operators", "enable", "nora"], { env })).code, 0);
  assert.equal((await runCli([...server, "operators", "reset-mfa", "nora"], { env })).code, 0);
  // After the reset, the password alone gives a token that only serves enrolment.
  const again = await callApi<{ token: string; mfaEnrollmentRequired: boolean }>(t.anonymous, "POST", "/api/v1/auth/login", {
    username: "nora",
    password: "nora's own passphrase",
  });
  assert.equal(again.data.mfaEnrollmentRequired, true);
  remember(again.data.token);
  const limited = await callApi({ ...t.anonymous, token: again.data.token }, "GET", "/api/v1/devices").catch((e: unknown) => e);
  assert.ok(limited instanceof ApiError && limited.code === "AUTH_MFA_ENROLLMENT_REQUIRED");
});

test("brute force over HTTP: 429 AUTH_LOCKED with Retry-After; a correct password alone gets a challenge, never a token", async () => {
  await callApi(t.admin, "POST", "/api/v1/operators", { username: "victim", role: "auditor", sites: ["*"] }).then(async (r) => {
    const { oneTimePassword } = r.data as { oneTimePassword: string };
    await firstLogin(t.anonymous, {
      username: "victim",
      oneTimePassword,
      newPassword: "victim's passphrase",
      now: () => t.clock.now(),
    });
  });
  const attempt = (password: string) =>
    t.platform.http.inject({
      method: "POST",
      url: "/api/v1/auth/login",
      headers: { "content-type": "application/json" },
      remoteAddress: "192.0.2.66",
      payload: JSON.stringify({ username: "victim", password }),
    });
  const mfa = await attempt("victim's passphrase");
  assert.equal(mfa.statusCode, 401);
  const body = JSON.parse(mfa.body) as { token?: string; error: { code: string; challenge?: { id: string } } };
  assert.equal(body.error.code, "AUTH_MFA_REQUIRED");
  assert.ok(body.error.challenge?.id && body.token === undefined);
  for (let i = 0; i < 5; i++) assert.equal((await attempt(`wrong ${i}`)).statusCode, 401);
  const locked = await attempt("victim's passphrase");
  assert.equal(locked.statusCode, 429);
  assert.equal((JSON.parse(locked.body) as { error: { code: string } }).error.code, "AUTH_LOCKED");
  assert.ok(Number(locked.headers["retry-after"]) > 0);
});

test("WebAuthn: registration and login with a (software) security key; a bad signature or unknown challenge fails", async () => {
  const key = new SoftwareAuthenticator();
  const origin = t.platform.url;
  const options = await callApi<Record<string, unknown>>(t.admin, "POST", "/api/v1/auth/mfa/webauthn/register/options");
  assert.equal((options.data.rp as { id: string }).id, "localhost");
  const badRegistration = await callApi(t.admin, "POST", "/api/v1/auth/mfa/webauthn/register", {
    response: key.register({ ...options.data, challenge: "not-the-challenge" }, origin),
  }).catch((e: unknown) => e);
  assert.ok(badRegistration instanceof ApiError && badRegistration.code === "AUTH_MFA_INVALID", String(badRegistration));
  const fresh = await callApi<Record<string, unknown>>(t.admin, "POST", "/api/v1/auth/mfa/webauthn/register/options");
  const registered = await callApi<{ credentialId: string; recoveryCodes: string[] }>(
    t.admin,
    "POST",
    "/api/v1/auth/mfa/webauthn/register",
    {
      response: key.register(fresh.data, origin),
      name: "test key",
    },
  );
  assert.equal(registered.data.credentialId, key.id);
  assert.deepEqual(registered.data.recoveryCodes, [], "not the first factor: recovery codes are kept");

  const challengeId = async () => {
    const e = await callApi(t.anonymous, "POST", "/api/v1/auth/login", { username: "admin", password: t.adminPassword }).catch(
      (error: unknown) => error,
    );
    assert.ok(e instanceof ApiError && e.code === "AUTH_MFA_REQUIRED" && e.challenge);
    assert.deepEqual(e.challenge.methods, ["totp", "webauthn", "recovery-code"]);
    return e.challenge.id;
  };
  const id1 = await challengeId();
  const assertion = await callApi<Record<string, unknown>>(t.anonymous, "POST", "/api/v1/auth/webauthn/options", {
    challengeId: id1,
  });
  const tampered = await callApi(t.anonymous, "POST", "/api/v1/auth/login/webauthn", {
    challengeId: id1,
    response: key.assert(assertion.data, origin, true),
  }).catch((e: unknown) => e);
  assert.ok(tampered instanceof ApiError && tampered.code === "AUTH_MFA_INVALID", String(tampered));
  const unknown = await callApi(t.anonymous, "POST", "/api/v1/auth/webauthn/options", { challengeId: "mfa_nope" }).catch(
    (e: unknown) => e,
  );
  assert.ok(unknown instanceof ApiError && unknown.code === "AUTH_MFA_CHALLENGE_INVALID");

  const id2 = await challengeId();
  const options2 = await callApi<Record<string, unknown>>(t.anonymous, "POST", "/api/v1/auth/webauthn/options", {
    challengeId: id2,
  });
  const token = await callApi<{ token: string }>(t.anonymous, "POST", "/api/v1/auth/login/webauthn", {
    challengeId: id2,
    response: key.assert(options2.data, origin),
  });
  remember(token.data.token);
  const who = await callApi<{ mfa: boolean }>({ ...t.anonymous, token: token.data.token }, "GET", "/api/v1/auth/whoami");
  assert.equal(who.data.mfa, true);
});

function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

test("vigil keys rotate: everything re-wrapped live; after a restart everything opens; the old master key opens nothing", async () => {
  const dataDir = t.platform.config.dataDir;
  const masterFile = join(dataDir, "keys", "master.key");
  const oldKeyCopy = join(work.path, "old-master.key");
  copyFileSync(masterFile, oldKeyCopy);
  // Sensitive telemetry through the sealed-field helper (the gateway's storage will use it).
  const telemetry = await t.platform.sealedFields.field("telemetry");
  const payload = '{"patient":"Jane Roe","spo2":97}';
  const sealed = telemetry.seal(payload, "pump-7:42");
  remember(payload);

  const env = { XDG_CONFIG_HOME: join(work.path, "xdg") };
  const rotated = await runCli(["--server", t.platform.url, "--ca-file", t.platform.caFile, "--json", "keys", "rotate"], { env });
  assert.equal(rotated.code, 0, rotated.stderr);
  const result = JSON.parse(rotated.stdout) as {
    masterKeyId: string;
    previousMasterKeyId: string;
    vaultItems: number;
    dataKeys: number;
  };
  assert.notEqual(result.masterKeyId, result.previousMasterKeyId);
  assert.ok(result.vaultItems >= 3, "CA keys, API TLS key and audit signing key");
  assert.ok(result.dataKeys >= 2, "operator_mfa and telemetry");
  assert.notDeepEqual(readFileSync(masterFile), readFileSync(oldKeyCopy));
  // Still running: logins (TOTP secret unsealed) and sealed data work without a restart.
  await t.login();
  assert.equal(telemetry.open(sealed, "pump-7:42"), payload);

  await t.platform.stop("restart after rotation");
  const config = await loadConfig({
    env: {},
    cwd: t.dir,
    flags: { "data-dir": dataDir, "http-port": "0", "http-host": "127.0.0.1" },
  });
  const { log, lines } = memoryLogger();
  const restarted = new Platform({ config, log, processMetrics: false, clock: t.clock });
  await restarted.start();
  try {
    const anonymous = { url: restarted.url, ca: restarted.ca };
    t.clock.advance(30_000);
    const token = await callApi<{ token: string }>(anonymous, "POST", "/api/v1/auth/login", {
      username: "admin",
      password: t.adminPassword,
      totp: await totpCode(t.adminTotpSecret, t.clock.now()),
    });
    remember(token.data.token);
    await callApi({ ...anonymous, token: token.data.token }, "GET", "/api/v1/ca");
    assert.equal((await restarted.sealedFields.field("telemetry")).open(sealed, "pump-7:42"), payload);
    t.logLines.push(...lines);
  } finally {
    await restarted.stop();
  }

  const old = await FileMasterKey.open(oldKeyCopy, { create: false });
  const vault = new SealedFileVault(join(dataDir, "keys"), old);
  const items = readdirSync(join(dataDir, "keys")).filter((f) => f.endsWith(".sealed"));
  for (const item of items) {
    await assert.rejects(
      vault.get(item.replace(/\.sealed$/, "")),
      (e: unknown) => (e as { code?: string }).code === "KEY_VAULT_UNAVAILABLE",
      item,
    );
  }
  const store = openSqliteStore(join(dataDir, "vigil.db"), pino({ level: "silent" }));
  try {
    const fields = new SealedFields(old, store.dataKeys, t.clock);
    for (const name of ["operator_mfa", "telemetry"]) {
      await assert.rejects(fields.field(name), (e: unknown) => (e as { code?: string }).code === "KEY_VAULT_UNAVAILABLE", name);
    }
  } finally {
    await store.close();
  }
});

test("after the whole flow, no password, token, TOTP secret, recovery code, session secret, private key or sensitive payload is in plaintext in the data directory or the logs", () => {
  const dataDir = t.platform.config.dataDir;
  assert.ok(secrets.size >= 30, `${secrets.size} secrets collected`);
  const haystacks: [string, Buffer][] = filesUnder(dataDir).map((f) => [f, readFileSync(f)]);
  haystacks.push(["(logs)", Buffer.from(t.logLines.join("\n"))]);
  for (const [where, bytes] of haystacks) {
    const text = bytes.toString("latin1");
    assert.doesNotMatch(text, /-----BEGIN (EC |RSA |ENCRYPTED )?PRIVATE KEY-----/, `${where} holds a private key in PEM`);
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `${where} holds a secret in plaintext (${secret.slice(0, 4)}...)`);
      const base64 = Buffer.from(secret).toString("base64");
      assert.ok(!text.includes(base64), `${where} holds a secret in base64 (${secret.slice(0, 4)}...)`);
    }
  }
});
