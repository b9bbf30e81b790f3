import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, test } from "node:test";
import { cliFirstLogin, runCli, startDaemon, tempDir, waitForExit } from "./support.js";

const exec = promisify(execFile);
const work = tempDir("vigil-cli-");
after(() => work.remove());

/** A start-up failure is one line `vigil: CODE: message` plus a hint, never a stack trace. */
function assertCleanFailure(run: { code: number | null; stderr: string }, code: string, exitCode: number): void {
  assert.equal(run.code, exitCode, run.stderr);
  assert.match(run.stderr, new RegExp(`^vigil: ${code}: `, "m"));
  assert.doesNotMatch(run.stderr, /\n\s+at .+:\d+:\d+/, "no stack trace");
  assert.match(run.stderr, /->/, "says what to do next");
}

test("vigil up: curl --cacert reaches /readyz; login, status, devices and config print work; SIGTERM stops it cleanly", async () => {
  const dataDir = join(work.path, "main");
  const env = { XDG_CONFIG_HOME: join(work.path, "xdg") };
  const daemon = await startDaemon(["--data-dir", dataDir, "--http-port", "0"], { env });
  try {
    assert.ok(daemon.password, "the one-time password is printed on first start");
    assert.equal(daemon.caFile, join(dataDir, "tls", "ca.pem"));
    const curl = await exec("curl", [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--cacert",
      daemon.caFile,
      `${daemon.url}/readyz`,
    ]);
    assert.equal(curl.stdout, "200");

    const notLoggedIn = await runCli(["status", "--data-dir", dataDir], { env });
    assertCleanFailure(notLoggedIn, "CLI_NOT_LOGGED_IN", 1);

    const newPassword = join(work.path, "new-password");
    writeFileSync(newPassword, "operator chosen passphrase\n");
    const login = await cliFirstLogin(
      ["--data-dir", dataDir, "--password-file", join(dataDir, "initial-admin-password"), "--new-password-file", newPassword],
      { env },
    );
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /Logged in to .* as admin/);
    assert.match(login.stdout, /TOTP enrolled\. Recovery codes/);
    assert.equal(login.stdout.match(/^ {2}[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/gm)?.length, 10);
    assert.equal(existsSync(join(dataDir, "initial-admin-password")), false, "the one-time password file is gone once changed");
    const credentials = readFileSync(join(work.path, "xdg", "vigil", "credentials.json"), "utf8");
    assert.match(credentials, /vgl1\./);

    const status = await runCli(["status", "--data-dir", dataDir], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /store:\s+sqlite, schema v\d+/);
    assert.match(status.stdout, /api\s+started/);

    assert.equal(
      (await runCli(["devices", "add", "meter-7", "--profile", "smart-meter", "--data-dir", dataDir], { env })).code,
      0,
    );
    const table = await runCli(["devices", "list", "--data-dir", dataDir], { env });
    assert.match(table.stdout, /^ID\s+STATE\s+PROFILE/m);
    assert.match(table.stdout, /^meter-7\s+pending\s+smart-meter/m);
    const json = await runCli(["--json", "devices", "list", "--data-dir", dataDir], { env });
    assert.deepEqual(
      (JSON.parse(json.stdout) as { id: string }[]).map((d) => d.id),
      ["meter-7"],
    );
    const missing = await runCli(["devices", "show", "nope", "--data-dir", dataDir], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^vigil: DEVICE_NOT_FOUND: /m);

    // --server/--ca-file instead of --data-dir reaches the same daemon (the token is per server URL).
    const remote = await runCli(["--server", daemon.url, "--ca-file", daemon.caFile, "whoami"], { env });
    assert.equal(remote.code, 0, remote.stderr);
    assert.match(remote.stdout, /operator:\s+admin/);

    const printed = await runCli(["config", "print", "--data-dir", dataDir, "--tls-cert", "/x/c.pem", "--tls-key", "/x/k.pem"], {
      env,
    });
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /key: "?\[redacted\]"?/);
    assert.doesNotMatch(printed.stdout, /k\.pem/);
  } finally {
    daemon.child.kill("SIGTERM");
  }
  assert.equal(await waitForExit(daemon.child), 0);
  assert.equal(existsSync(join(dataDir, "daemon.json")), false, "daemon.json removed on clean stop");
  assert.equal(existsSync(join(dataDir, "vigil.lock")), false, "lock released on clean stop");
  assert.equal(existsSync(join(dataDir, "vigil.db-wal")), false, "WAL folded into the database on clean stop");
  assert.match(daemon.stdout(), /"msg":"Vigil stopped"/);
});

test("a bad configuration: every problem on stderr at once, exit 2, no stack trace", async () => {
  const file = join(work.path, "bad.yaml");
  writeFileSync(file, "http:\n  port: -1\nlogs: {}\n");
  const run = await runCli(["up", "--config", file, "--data-dir", join(work.path, "never"), "--log-level", "chatty"]);
  assertCleanFailure(run, "CONFIG_INVALID", 2);
  assert.match(run.stderr, /http\.port/);
  assert.match(run.stderr, /logs: unknown key/);
  assert.equal(existsSync(join(work.path, "never")), false, "nothing created on a bad config");
  const env = await runCli(["up", "--data-dir", join(work.path, "never")], { env: { VIGIL_HTTP_PORT: "eighty" } });
  assertCleanFailure(env, "CONFIG_INVALID", 2);
  assert.match(env.stderr, /VIGIL_HTTP_PORT/);
});

test("a busy port is PORT_IN_USE, exit 1, and the data dir is left unlocked", async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const port = (blocker.address() as { port: number }).port;
  const dataDir = join(work.path, "busy");
  try {
    const run = await runCli(["up", "--data-dir", dataDir, "--http-port", String(port)]);
    assertCleanFailure(run, "PORT_IN_USE", 1);
    assert.match(run.stderr, new RegExp(`port ${port}`));
    assert.equal(existsSync(join(dataDir, "vigil.lock")), false);
  } finally {
    blocker.close();
  }
});

test("a second vigil up on the same data dir is refused while the first runs", async () => {
  const dataDir = join(work.path, "twice");
  const first = await startDaemon(["--data-dir", dataDir, "--http-port", "0", "--log-level", "warn"]);
  try {
    const second = await runCli(["up", "--data-dir", dataDir, "--http-port", "0"]);
    assertCleanFailure(second, "DATA_DIR_LOCKED", 1);
    assert.match(second.stderr, new RegExp(`pid ${first.child.pid}`));
    const ready = await exec("curl", ["-sS", "--cacert", first.caFile, `${first.url}/readyz`]);
    assert.match(ready.stdout, /"ready":true/, "the first one is unharmed");
  } finally {
    first.child.kill("SIGINT");
  }
  assert.equal(await waitForExit(first.child), 0);
});

test("a corrupted database: STORE_CORRUPT names the file, which is not overwritten", async () => {
  const dataDir = join(work.path, "corrupt");
  mkdirSync(dataDir, { mode: 0o700 });
  const db = join(dataDir, "vigil.db");
  const junk = Buffer.alloc(8192, 0x42);
  writeFileSync(db, junk);
  const run = await runCli(["up", "--data-dir", dataDir, "--http-port", "0"]);
  assertCleanFailure(run, "STORE_CORRUPT", 1);
  assert.ok(run.stderr.includes(db));
  assert.deepEqual(readFileSync(db), junk);
  assert.equal(existsSync(join(dataDir, "initial-admin-password")), false, "no admin bootstrapped into a broken store");
});

test("plain HTTP is refused off loopback, and served on loopback only when asked", async () => {
  const refused = await runCli([
    "up",
    "--data-dir",
    join(work.path, "plain"),
    "--http-plain",
    "--http-host",
    "0.0.0.0",
    "--http-port",
    "0",
  ]);
  assertCleanFailure(refused, "PLAIN_HTTP_NOT_LOOPBACK", 1);
  const plain = await startDaemon([
    "--data-dir",
    join(work.path, "plain"),
    "--http-plain",
    "--http-port",
    "0",
    "--log-level",
    "warn",
  ]);
  try {
    assert.match(plain.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await exec("curl", ["-sS", `${plain.url}/healthz`]);
    assert.match(health.stdout, /"status":"ok"/);
  } finally {
    plain.child.kill("SIGTERM");
  }
  assert.equal(await waitForExit(plain.child), 0);
});

test("without a running daemon the CLI says how to start or find one", async () => {
  const run = await runCli(["status", "--data-dir", join(work.path, "nothing-here")]);
  assertCleanFailure(run, "CLI_DAEMON_NOT_FOUND", 1);
});
