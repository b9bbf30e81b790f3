import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { exec, opensslCsr, opensslFactory, estPost, errorCode } from "./est-support.js";
import { cliFirstLogin, runCli, startDaemon, tempDir, waitForExit } from "./support.js";

const work = tempDir("vigil-idcli-");
after(() => work.remove());

function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

test("CLI: tokens, manufacturers, pre-registration, revocation, certificates, CA export; no private key in plaintext on disk", async () => {
  const dataDir = join(work.path, "data");
  const env = { XDG_CONFIG_HOME: join(work.path, "xdg") };
  const daemon = await startDaemon(["--data-dir", dataDir, "--http-port", "0", "--log-level", "warn"], { env });
  const cli = (...args: string[]) => runCli([...args, "--data-dir", dataDir], { env });
  try {
    writeFileSync(join(work.path, "pw"), "identity cli passphrase\n");
    const login = await cliFirstLogin(
      [
        "--data-dir",
        dataDir,
        "--password-file",
        join(dataDir, "initial-admin-password"),
        "--new-password-file",
        join(work.path, "pw"),
      ],
      { env },
    );
    assert.equal(login.code, 0, login.stderr);

    const created = await cli("tokens", "create", "--profile", "smart-meter", "--ttl", "30m", "--count", "3");
    assert.equal(created.code, 0, created.stderr);
    const tokens = created.stdout.split("\n").filter((l) => l.startsWith("vet1."));
    assert.equal(tokens.length, 3);
    assert.match(created.stdout, /# 3 token\(s\) for profile smart-meter/);
    const listed = await cli("tokens", "list");
    assert.equal(listed.stdout.trim().split("\n").length, 4, "header + 3 tokens");
    assert.ok(!listed.stdout.includes(tokens[0]!.split(".")[2]!), "secrets are never listed");

    const csr = await opensslCsr(work.path, "m-1", "m-1");
    const enrolled = await estPost(daemon.url, readFileSync(daemon.caFile, "utf8"), "/.well-known/est/simpleenroll", csr.body, {
      auth: `m-1:${tokens[0]}`,
    });
    assert.equal(enrolled.status, 200, enrolled.text);
    const devices = await cli("devices", "list");
    assert.match(devices.stdout, /^m-1\s+active\s+smart-meter\s+claim-token\s+-\s+valid\s+\S+/m);

    const factory = await opensslFactory(work.path, "cli-maker", "pump-1");
    const added = await cli("manufacturers", "add", factory.caPem, "--name", "CLI Maker");
    assert.equal(added.code, 0, added.stderr);
    assert.match((await cli("manufacturers", "list")).stdout, /CLI Maker\s+trusted/);
    const notCa = await cli("manufacturers", "add", factory.devPem, "--name", "Not a CA");
    assert.equal(notCa.code, 1);
    assert.match(notCa.stderr, /MANUFACTURER_INVALID: .* is not a CA certificate/);

    const key = await opensslCsr(work.path, "pre-1", "pre-1");
    const fp = (
      await exec("bash", ["-c", `openssl pkey -in ${key.key} -pubout -outform DER | sha256sum | cut -d' ' -f1`])
    ).stdout.trim();
    writeFileSync(join(work.path, "pre.csv"), `device_id,public_key_sha256,profile\npre-1,${fp},plc\n`);
    assert.match((await cli("devices", "import", join(work.path, "pre.csv"))).stdout, /Pre-registered 1 device/);
    writeFileSync(join(work.path, "bad.csv"), `pre-2,${fp}\npre-3,nothex\n`);
    const bad = await cli("devices", "import", join(work.path, "bad.csv"));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /ENROLLMENT_PREREGISTRATION_INVALID: .*line 2/s);

    const revoked = await cli("devices", "revoke", "m-1", "--reason", "keyCompromise");
    assert.match(revoked.stdout, /Revoked m-1 and 1 certificate/);
    assert.match((await cli("devices", "certs", "m-1")).stdout, /revoked\s+.*keyCompromise/);
    const relapse = await estPost(daemon.url, readFileSync(daemon.caFile, "utf8"), "/.well-known/est/simpleenroll", csr.body, {
      auth: `m-1:${tokens[1]}`,
    });
    assert.equal(errorCode(relapse), "DEVICE_REVOKED");

    const shown = await cli("ca", "show");
    assert.match(shown.stdout, /root:\s+CN=Vigil Root CA/);
    assert.match(shown.stdout, /root key:\s+in the data directory \(sealed\)/);

    writeFileSync(join(work.path, "passphrase"), "offline root passphrase 42\n");
    const exported = await cli(
      "ca",
      "export-root",
      "--out",
      join(work.path, "root-key.pem"),
      "--passphrase-file",
      join(work.path, "passphrase"),
      "--remove",
    );
    assert.equal(exported.code, 0, exported.stderr);
    const encrypted = readFileSync(join(work.path, "root-key.pem"), "utf8");
    assert.match(encrypted, /BEGIN ENCRYPTED PRIVATE KEY/);
    // The exported key opens with the passphrase and is the root certificate's key.
    const pub = (
      await exec("openssl", [
        "pkey",
        "-in",
        join(work.path, "root-key.pem"),
        "-passin",
        `file:${join(work.path, "passphrase")}`,
        "-pubout",
      ])
    ).stdout;
    assert.equal(pub, (await exec("openssl", ["x509", "-in", join(dataDir, "pki", "root.pem"), "-noout", "-pubkey"])).stdout);
    assert.match((await cli("ca", "show")).stdout, /root key:\s+not here \(kept offline\)/);
    const again = await cli(
      "ca",
      "export-root",
      "--out",
      join(work.path, "root-key-2.pem"),
      "--passphrase-file",
      join(work.path, "passphrase"),
    );
    assert.match(again.stderr, /PKI_ROOT_KEY_ABSENT/);
  } finally {
    daemon.child.kill("SIGTERM");
  }
  assert.equal(await waitForExit(daemon.child), 0);
  // Encryption at rest: no file in the data directory holds a private key in the clear.
  for (const file of filesUnder(dataDir)) {
    const text = readFileSync(file).toString("latin1");
    assert.ok(!/-----BEGIN (EC |RSA |ENCRYPTED )?PRIVATE KEY-----/.test(text), `${file} holds a PEM private key`);
  }
});

test("bring your own issuing CA: `vigil ca import` while stopped; the API and new devices chain to the operator's root", async () => {
  const dataDir = join(work.path, "byo");
  const first = await startDaemon(["--data-dir", dataDir, "--http-port", "0", "--log-level", "warn"]);
  first.child.kill("SIGTERM");
  await waitForExit(first.child);
  // The operator's PKI, made with openssl: a root and an issuing CA under it.
  const d = work.path;
  await exec("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-384",
    "-nodes",
    "-keyout",
    join(d, "op-root.key"),
    "-out",
    join(d, "op-root.pem"),
    "-days",
    "3650",
    "-subj",
    "/CN=Operator Root",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await exec("openssl", [
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    join(d, "op-issuing.key"),
    "-out",
    join(d, "op-issuing.csr"),
    "-subj",
    "/CN=Operator Issuing",
  ]);
  writeFileSync(
    join(d, "op-issuing.ext"),
    "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
  );
  await exec("openssl", [
    "x509",
    "-req",
    "-in",
    join(d, "op-issuing.csr"),
    "-CA",
    join(d, "op-root.pem"),
    "-CAkey",
    join(d, "op-root.key"),
    "-CAcreateserial",
    "-out",
    join(d, "op-issuing.pem"),
    "-days",
    "1825",
    "-extfile",
    join(d, "op-issuing.ext"),
  ]);

  const notCa = await runCli([
    "ca",
    "import",
    "--data-dir",
    dataDir,
    "--cert",
    join(d, "op-root.pem"),
    "--key",
    join(d, "op-issuing.key"),
  ]);
  assert.equal(notCa.code, 1);
  assert.match(notCa.stderr, /PKI_CA_IMPORT_INVALID: .*key does not belong/);
  const imported = await runCli([
    "ca",
    "import",
    "--data-dir",
    dataDir,
    "--cert",
    join(d, "op-issuing.pem"),
    "--key",
    join(d, "op-issuing.key"),
    "--chain",
    join(d, "op-root.pem"),
  ]);
  assert.equal(imported.code, 0, imported.stderr);

  const daemon = await startDaemon(["--data-dir", dataDir, "--http-port", "0", "--log-level", "warn"]);
  try {
    // curl trusts only the operator's root: the API certificate was reissued from the imported CA.
    const ready = await exec("curl", ["-sS", "--cacert", join(d, "op-root.pem"), `${daemon.url}/readyz`]);
    assert.match(ready.stdout, /"ready":true/);
  } finally {
    daemon.child.kill("SIGTERM");
  }
  assert.equal(await waitForExit(daemon.child), 0);
});
