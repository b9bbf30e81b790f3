// End to end on PostgreSQL: a platform with store.engine=postgres enrolls a device over EST,
// logs an operator in with MFA and writes audit entries; a second platform on the same
// database finds everything, and the audit log verifies (CLI, from the database itself).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { callApi } from "../src/cli/client.js";
import { estPost, opensslCsr } from "./est-support.js";
import { execOn, freshDatabase, needPostgres, type FreshDatabase } from "./postgres-support.js";
import { runCli, startPlatform, tempDir } from "./support.js";

const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

test("a platform on PostgreSQL keeps devices, operators and a verifiable audit log across a restart", async (t) => {
  if (!(await needPostgres(t))) return;
  const db: FreshDatabase = await freshDatabase();
  cleanup.push(() => db.drop());
  const dir = tempDir("vigil-pg-e2e-");
  cleanup.push(() => dir.remove());
  const work = tempDir("vigil-pg-e2e-work-");
  cleanup.push(() => work.remove());
  const flags = {
    "store-engine": "postgres",
    "store-url": db.url.replace("postgres://postgres@", "postgres://postgres:unused-pw@"),
  };

  const first = await startPlatform({ keepDir: dir.path, flags });
  let stopped = false;
  cleanup.push(async () => {
    if (!stopped) await first.stop();
  });
  assert.equal(first.platform.store.engine, "postgres");
  assert.ok(!first.platform.store.location.includes("unused-pw"), "the password is redacted from the location");
  assert.ok(!first.logLines.join("\n").includes("unused-pw"), "and from the logs");

  // EST enrollment with a claim token.
  const { data: tokens } = await callApi<{ tokens: string[] }>(first.admin, "POST", "/api/v1/enrollment-tokens", {
    profile: "smart-meter",
  });
  const csr = await opensslCsr(work.path, "pg-meter-1", "pg-meter-1");
  const enrolled = await estPost(first.platform.url, first.platform.ca, "/.well-known/est/simpleenroll", csr.body, {
    auth: `pg-meter-1:${tokens.tokens[0]}`,
  });
  assert.equal(enrolled.status, 200, enrolled.text);
  const replay = await estPost(first.platform.url, first.platform.ca, "/.well-known/est/simpleenroll", csr.body, {
    auth: `pg-meter-2:${tokens.tokens[0]}`,
  });
  assert.notEqual(replay.status, 200, "the used claim token is refused");

  // An operator login with MFA (password + a fresh TOTP code).
  const token = await first.login();
  const me = await callApi<{ operator: string; mfa: boolean }>({ ...first.anonymous, token }, "GET", "/api/v1/auth/whoami");
  assert.deepEqual([me.data.operator, me.data.mfa], ["admin", true]);
  const head = (await callApi<{ head: number }>(first.admin, "GET", "/api/v1/audit?limit=1")).data.head;
  assert.ok(head >= 3, `audit entries written (head ${head})`);
  await first.stop();
  stopped = true;
  assert.equal(existsSync(join(dir.path, "data", "vigil.db")), false, "no SQLite file: the state lives in PostgreSQL");

  // A second platform on the same database (and data directory for its keys).
  const second = await startPlatform({ keepDir: dir.path, flags, clock: first.clock });
  cleanup.push(() => second.stop());
  const login = await callApi<{ token: string }>(second.anonymous, "POST", "/api/v1/auth/login", {
    username: "admin",
    password: first.adminPassword,
    totp: await first.totp(),
  });
  const admin = { ...second.anonymous, token: login.data.token };
  const device = await callApi<{ state: string; attestationMethod: string; certificate: { status: string } }>(
    admin,
    "GET",
    "/api/v1/devices/pg-meter-1",
  );
  assert.deepEqual(
    [device.data.state, device.data.attestationMethod, device.data.certificate.status],
    ["active", "claim-token", "valid"],
  );
  const again = await estPost(second.platform.url, second.platform.ca, "/.well-known/est/simpleenroll", csr.body, {
    auth: `pg-meter-3:${tokens.tokens[0]}`,
  });
  assert.notEqual(again.status, 200, "the claim token stays used after the restart");
  const headAfter = (await callApi<{ head: number }>(admin, "GET", "/api/v1/audit?limit=1")).data.head;
  assert.ok(headAfter > head, "the chain continued after the restart");

  const verify = await runCli(["audit", "verify", "--store-url", db.url, "--json"]);
  assert.equal(verify.code, 0, verify.stderr);
  const report = JSON.parse(verify.stdout) as { intact: boolean; entries: number; problem: unknown };
  assert.equal(report.problem, null);
  assert.equal(report.intact, true);
  assert.ok(report.entries >= headAfter, `every entry checked (${report.entries} of at least ${headAfter})`);

  // Someone with database rights rewrites an entry (the append-only triggers disabled first):
  // the verifier, reading PostgreSQL, names it.
  await execOn(
    db.url,
    "ALTER TABLE audit_entries DISABLE TRIGGER USER; UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2; ALTER TABLE audit_entries ENABLE TRIGGER USER",
  );
  const tampered = await runCli(["audit", "verify", "--store-url", db.url, "--json"]);
  assert.equal(tampered.code, 1);
  assert.equal((JSON.parse(tampered.stdout) as { problem: { seq: number } }).problem.seq, 2);
});
