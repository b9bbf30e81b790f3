import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import type { AuditEntryDto, AuditListResponse } from "@vigil/contract";
import { generateAuditSigningKey } from "../src/identity/index.js";
import { ApiError, callApi, type ApiTarget } from "../src/cli/client.js";
import { runCli, startPlatform, tempDir, type TestPlatform } from "./support.js";

/**
 * The audit log end to end: a real Vigil records what operators do, stops, and the real
 * `vigil audit verify` checks the real SQLite file, untouched and tampered with in each of
 * the three ways (an edit, a deletion, a reordering), plus a forged checkpoint signature.
 */
const work = tempDir("vigil-audit-");
after(() => work.remove());

let t: TestPlatform;
let dataDir: string;
const secrets: string[] = [];
const newPassword = "a brand new operator passphrase";
let entries: AuditEntryDto[] = [];
const env = { XDG_CONFIG_HOME: join(work.path, "xdg") };

before(async () => {
  t = await startPlatform({ keepDir: join(work.path, "vigil"), flags: { "audit-checkpoint-every": "10" } });
  dataDir = t.platform.config.dataDir;
  secrets.push(t.adminPassword, t.admin.token ?? "");

  // Operators at work: a failed login, devices registered, a password change, a new login.
  await assert.rejects(
    callApi(t.anonymous, "POST", "/api/v1/auth/login", { username: "admin", password: "wrong guess of a password" }),
    (e: unknown) => e instanceof ApiError && e.code === "AUTH_BAD_CREDENTIALS",
  );
  secrets.push("wrong guess of a password");
  for (let i = 1; i <= 12; i++) {
    await callApi(t.admin, "POST", "/api/v1/devices", { id: `meter-${i}`, profile: "smart-meter" });
  }
  await assert.rejects(callApi(t.anonymous, "GET", "/api/v1/devices"), (e: unknown) => e instanceof ApiError && e.status === 401);
  await callApi(t.admin, "POST", "/api/v1/auth/password", { currentPassword: t.adminPassword, newPassword });
  const again = await callApi<{ token: string }>(t.anonymous, "POST", "/api/v1/auth/login", {
    username: "admin",
    password: newPassword,
    totp: await t.totp(),
  });
  secrets.push(newPassword, again.data.token);
  t.admin = { ...t.admin, token: again.data.token };

  const page = await callApi<AuditListResponse>(t.admin, "GET", "/api/v1/audit?limit=1000");
  entries = page.data.items;
});

after(async () => {
  if (t !== undefined) await t.platform.stop("test done").catch(() => undefined);
});

test("every operator action is in the log, in order, with who did it; the API pages it for a read token", async () => {
  const actions = entries.map((e) => e.action);
  assert.equal(actions[0], "audit.key_created");
  assert.ok(actions.indexOf("operator.created") < actions.indexOf("platform.started"));
  const devices = entries.filter((e) => e.action === "device.registered");
  assert.deepEqual(
    devices.map((e) => [e.actor, e.target, e.outcome]),
    Array.from({ length: 12 }, (_, i) => ["admin", `meter-${i + 1}`, "success"]),
  );
  assert.ok(entries.some((e) => e.action === "auth.failed" && e.actor === "anonymous" && e.outcome === "failure"));
  assert.ok(entries.some((e) => e.action === "auth.denied" && e.outcome === "denied"));
  assert.ok(entries.some((e) => e.action === "operator.password_changed" && e.actor === "admin"));
  assert.deepEqual(
    entries.map((e) => e.seq),
    entries.map((_, i) => i + 1),
  );

  const page = await callApi<AuditListResponse>(t.admin, "GET", "/api/v1/audit?after=3&limit=2");
  assert.deepEqual(
    page.data.items.map((e) => e.seq),
    [4, 5],
  );
  assert.equal(page.data.next, 5);
  assert.ok(page.data.head >= entries.length);
  await assert.rejects(callApi(t.anonymous, "GET", "/api/v1/audit"), (e: unknown) => e instanceof ApiError && e.status === 401);
  const readOnly = await callApi<{ token: string }>(t.anonymous, "POST", "/api/v1/auth/login", {
    username: "admin",
    password: newPassword,
    scopes: ["read"],
    totp: await t.totp(),
  });
  secrets.push(readOnly.data.token);
  const asReader: ApiTarget = { ...t.anonymous, token: readOnly.data.token };
  assert.equal((await callApi<AuditListResponse>(asReader, "GET", "/api/v1/audit?limit=1")).status, 200);
});

test("no password or token appears in any audit entry after logins, a failed login and a password change", () => {
  assert.ok(entries.length > 20);
  const text = JSON.stringify(entries);
  for (const secret of secrets) {
    assert.ok(secret.length > 10);
    assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 4)}...) is in the audit log`);
    const secretPart = secret.split(".")[2];
    if (secret.startsWith("vgl1.") && secretPart)
      assert.ok(!text.includes(secretPart), "a token's secret part is in the audit log");
  }
});

test("vigil audit list shows the newest entries through the API", async () => {
  const passwordFile = join(work.path, "password");
  writeFileSync(passwordFile, `${newPassword}\n`);
  const server = ["--server", t.platform.url, "--ca-file", t.platform.caFile];
  const login = await runCli([...server, "login", "--password-file", passwordFile, "--totp-code", await t.totp()], { env });
  assert.equal(login.code, 0, login.stderr);
  const table = await runCli([...server, "audit", "list", "--limit", "5"], { env });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^SEQ\s+AT\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME/m);
  assert.equal(table.stdout.trim().split("\n").length, 6, table.stdout);
  const json = await runCli([...server, "audit", "list", "--after", "0", "--limit", "3", "--json"], { env });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(
    (JSON.parse(json.stdout) as AuditEntryDto[]).map((e) => e.seq),
    [1, 2, 3],
  );
});

test("vigil audit verify works next to the running daemon (read-only, one snapshot)", async () => {
  await t.platform.audit.flush();
  const run = await runCli(["audit", "verify", "--data-dir", dataDir]);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(run.stdout, /Audit log intact: \d+ entries and \d+ signed checkpoints verified/);
});

/** A copy of the stopped daemon's database in its own data dir, tampered with by `tamper` like an attacker with sqlite3 would. */
function tampered(name: string, tamper: (db: Database.Database) => void): string {
  const dir = join(work.path, `tampered-${name}`);
  mkdirSync(dir, { mode: 0o700 });
  copyFileSync(join(dataDir, "vigil.db"), join(dir, "vigil.db"));
  const db = new Database(join(dir, "vigil.db"));
  // The append-only triggers stop mistakes, not an attacker with the file: drop them first.
  for (const { name: trigger } of db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'audit_%'")
    .all() as {
    name: string;
  }[]) {
    db.exec(`DROP TRIGGER ${trigger}`);
  }
  tamper(db);
  db.close();
  return dir;
}

function seqOf(db: Database.Database, target: string): number {
  return (
    db.prepare("SELECT seq FROM audit_entries WHERE action = 'device.registered' AND target = ?").get(target) as { seq: number }
  ).seq;
}

test("after a clean stop: intact verifies (exit 0); an edit, a deletion, a reordering and a forged signature each exit 1 naming the first bad seq", async () => {
  await t.platform.stop("tamper test");
  assert.ok(existsSync(join(dataDir, "keys", "audit-signing.sealed")), "the signing key is sealed in the key vault");
  assert.doesNotMatch(readFileSync(join(dataDir, "keys", "audit-signing.sealed"), "utf8"), /PRIVATE KEY/);

  const intact = await runCli(["audit", "verify", "--data-dir", dataDir]);
  assert.equal(intact.code, 0, intact.stderr + intact.stdout);
  const counts = /Audit log intact: (\d+) entries and (\d+) signed checkpoints verified/.exec(intact.stdout);
  assert.ok(counts, intact.stdout);
  assert.ok(Number(counts[1]) >= entries.length);
  assert.ok(Number(counts[2]) >= 3, "every 10 entries and one on stop");
  assert.match(intact.stdout, /unsigned tail:\s+0 entries/);

  const pinned = await runCli([
    "audit",
    "verify",
    "--data-dir",
    dataDir,
    "--public-key",
    join(dataDir, "keys", "audit-signing.pub.pem"),
  ]);
  assert.equal(pinned.code, 0, pinned.stderr + pinned.stdout);
  const strangerKey = join(work.path, "stranger.pub.pem");
  writeFileSync(strangerKey, generateAuditSigningKey().publicKeyPem);
  const stranger = await runCli(["audit", "verify", "--data-dir", dataDir, "--public-key", strangerKey]);
  assert.equal(stranger.code, 1);
  assert.match(
    stranger.stderr,
    /^vigil: AUDIT_SIGNATURE_INVALID: first bad entry: seq 10: .*not by the key given with --public-key/m,
  );

  let edited = 0;
  const editDir = tampered("edit", (db) => {
    edited = seqOf(db, "meter-5");
    db.prepare("UPDATE audit_entries SET details = replace(details, 'smart-meter', 'dumb-meter') WHERE seq = ?").run(edited);
  });
  const edit = await runCli(["audit", "verify", "--data-dir", editDir]);
  assert.equal(edit.code, 1, edit.stdout);
  assert.match(
    edit.stderr,
    new RegExp(`^vigil: AUDIT_CHAIN_BROKEN: first bad entry: seq ${edited}: entry ${edited} was altered`, "m"),
  );
  assert.match(edit.stdout, new RegExp(`Audit log TAMPERED: first bad entry is seq ${edited}\\.`));

  let deleted = 0;
  const deleteDir = tampered("delete", (db) => {
    deleted = seqOf(db, "meter-7");
    db.prepare("DELETE FROM audit_entries WHERE seq = ?").run(deleted);
  });
  const deletion = await runCli(["audit", "verify", "--data-dir", deleteDir]);
  assert.equal(deletion.code, 1, deletion.stdout);
  assert.match(deletion.stderr, new RegExp(`AUDIT_CHAIN_BROKEN: first bad entry: seq ${deleted}: entry ${deleted} is missing`));

  let first = 0;
  let second = 0;
  const swapDir = tampered("swap", (db) => {
    first = seqOf(db, "meter-3");
    second = seqOf(db, "meter-9");
    db.prepare("UPDATE audit_entries SET seq = -1 WHERE seq = ?").run(first);
    db.prepare("UPDATE audit_entries SET seq = ? WHERE seq = ?").run(first, second);
    db.prepare("UPDATE audit_entries SET seq = ? WHERE seq = -1").run(second);
  });
  const swap = await runCli(["audit", "verify", "--data-dir", swapDir, "--json"]);
  assert.equal(swap.code, 1, swap.stdout);
  const report = JSON.parse(swap.stdout) as { intact: boolean; problem: { kind: string; seq: number } };
  assert.equal(report.intact, false);
  assert.deepEqual(report.problem.kind, "reordered");
  assert.equal(report.problem.seq, first);
  assert.match(swap.stderr, new RegExp(`AUDIT_CHAIN_BROKEN: first bad entry: seq ${first}: entry ${first} is out of order`));

  let forgedAt = 0;
  const forgeDir = tampered("forge", (db) => {
    forgedAt = (db.prepare("SELECT MIN(seq) AS seq FROM audit_checkpoints").get() as { seq: number }).seq;
    db.prepare("UPDATE audit_checkpoints SET signature = ? WHERE seq = ?").run(Buffer.alloc(64, 7).toString("base64"), forgedAt);
  });
  const forged = await runCli(["audit", "verify", "--data-dir", forgeDir]);
  assert.equal(forged.code, 1, forged.stdout);
  assert.match(
    forged.stderr,
    new RegExp(`^vigil: AUDIT_SIGNATURE_INVALID: first bad entry: seq ${forgedAt}: checkpoint at seq ${forgedAt}`, "m"),
  );

  // The original is untouched by all of this and still verifies.
  assert.equal((await runCli(["audit", "verify", "--data-dir", dataDir])).code, 0);
});

test("verify on a directory without a database says so (exit 1)", async () => {
  const run = await runCli(["audit", "verify", "--data-dir", join(work.path, "nothing")]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^vigil: AUDIT_LOG_UNREADABLE: no database at /m);
});
