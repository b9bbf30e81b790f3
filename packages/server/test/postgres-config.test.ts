// The store section of the configuration: engine and URL, validated once, the password
// never printed; a platform pointed at an unusable PostgreSQL refuses to start with a code.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pino } from "pino";
import { loadConfig } from "../src/app/config.js";
import { Platform } from "../src/app/platform.js";
import { isVigilError } from "../src/core/index.js";
import { runCli, tempDir } from "./support.js";

test("store.engine defaults to sqlite; postgres needs a postgres:// URL, reported with the other problems", async () => {
  const dir = tempDir("vigil-pg-config-");
  try {
    const plain = await loadConfig({ env: {}, cwd: dir.path });
    assert.equal(plain.store.engine, "sqlite");
    assert.equal(plain.store.url, undefined);

    const pg = await loadConfig({
      env: { VIGIL_STORE_ENGINE: "postgres", VIGIL_STORE_URL: "postgres://vigil@db:5432/vigil", VIGIL_STORE_PASSWORD_FILE: "pw" },
      cwd: dir.path,
    });
    assert.equal(pg.store.engine, "postgres");
    assert.equal(pg.store.url, "postgres://vigil@db:5432/vigil");
    assert.equal(pg.store.passwordFile, join(dir.path, "pw"), "the password file is resolved against the working directory");

    await assert.rejects(
      loadConfig({ env: { VIGIL_STORE_ENGINE: "postgres" }, cwd: dir.path }),
      (e: unknown) => isVigilError(e, "CONFIG_INVALID") && /store.url is not set/.test(e.message),
    );
    await assert.rejects(
      loadConfig({ env: { VIGIL_STORE_URL: "mysql://db/vigil", VIGIL_STORE_ENGINE: "oracle" }, cwd: dir.path }),
      (e: unknown) =>
        isVigilError(e, "CONFIG_INVALID") &&
        /store\.url: must be a postgres:\/\/ URL/.test(e.message) &&
        /store\.engine/.test(e.message),
    );
  } finally {
    dir.remove();
  }
});

test("vigil config print shows the store URL with its password redacted", async () => {
  const dir = tempDir("vigil-pg-config-");
  try {
    writeFileSync(
      join(dir.path, "vigil.json"),
      JSON.stringify({
        store: { engine: "postgres", url: "postgres://vigil:Sup3r-s3cret@db.example:5432/vigil", passwordFile: "/run/pg" },
      }),
    );
    const run = await runCli(["config", "print", "--json"], { cwd: dir.path });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!run.stdout.includes("Sup3r-s3cret"), run.stdout);
    assert.match(run.stdout, /postgres:\/\/vigil:\*\*\*@db\.example:5432\/vigil/);
    assert.ok(!run.stdout.includes("/run/pg"), "the password file path is a secret setting too");
  } finally {
    dir.remove();
  }
});

test("a platform pointed at a PostgreSQL that is not there refuses to start with STORE_UNREACHABLE", async () => {
  const dir = tempDir("vigil-pg-config-");
  try {
    const config = await loadConfig({
      env: {},
      cwd: dir.path,
      flags: {
        "data-dir": join(dir.path, "data"),
        "http-port": "0",
        "http-host": "127.0.0.1",
        "store-engine": "postgres",
        "store-url": "postgres://vigil:pw@127.0.0.1:1/vigil",
      },
    });
    const platform = new Platform({ config, log: pino({ level: "silent" }), processMetrics: false });
    await assert.rejects(platform.start(), (e: unknown) => isVigilError(e, "STORE_UNREACHABLE") && !e.message.includes(":pw@"));
    await platform.stop("test done").catch(() => undefined);
  } finally {
    dir.remove();
  }
});
