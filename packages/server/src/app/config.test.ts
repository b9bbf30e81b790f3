import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isVigilError } from "../core/index.js";
import { loadConfig, redactedConfig } from "./config.js";
import { referenceDocs } from "./reference-docs.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-config-"));

test("defaults: ./vigil-data resolved against cwd, HTTPS on 8443, frozen", async () => {
  const config = await loadConfig({ env: {}, cwd: dir });
  assert.equal(config.dataDir, join(dir, "vigil-data"));
  assert.equal(config.http.port, 8443);
  assert.equal(config.http.plain, false);
  assert.throws(() => {
    (config.http as { port: number }).port = 1;
  }, TypeError);
});

test("file -> VIGIL_* env -> flags, each overriding the one before", async () => {
  const file = join(dir, "layered.yaml");
  writeFileSync(file, "http:\n  port: 9000\n  host: 127.0.0.2\nlog:\n  level: warn\ndataDir: from-file\n");
  const config = await loadConfig({
    file,
    cwd: dir,
    env: { VIGIL_HTTP_PORT: "9001", VIGIL_LOG_LEVEL: "debug", PATH: "/bin" },
    flags: { "http-port": "9002" },
  });
  assert.equal(config.http.port, 9002, "flag beats env and file");
  assert.equal(config.log.level, "debug", "env beats file");
  assert.equal(config.http.host, "127.0.0.2", "file beats default");
  assert.equal(config.dataDir, join(dir, "from-file"));
});

test("vigil.yaml in the working directory is read without --config", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "vigil-cwd-"));
  writeFileSync(join(cwd, "vigil.yaml"), "http:\n  port: 9443\n");
  assert.equal((await loadConfig({ env: {}, cwd })).http.port, 9443);
});

test("every problem is reported at once: bad values, unknown keys, unknown env, unknown flags", async () => {
  const file = join(dir, "bad.yaml");
  writeFileSync(file, "http:\n  port: 70000\n  colour: blue\nlog:\n  level: loud\nsurprise: 1\n");
  const error = await loadConfig({
    file,
    cwd: dir,
    env: { VIGIL_HTTP_PORTT: "1", VIGIL_AUTH_TOKEN_TTL_SECONDS: "soon" },
    flags: { nope: "1" },
  }).then(
    () => assert.fail("bad config accepted"),
    (e: unknown) => e,
  );
  assert.ok(isVigilError(error, "CONFIG_INVALID"));
  const problems = (error.details?.problems ?? []) as string[];
  const expected = [
    /http\.port: Too big/,
    /http\.colour: unknown key/,
    /log\.level: Invalid option/,
    /surprise: unknown key/,
    /VIGIL_HTTP_PORTT: unknown environment setting/,
    /--nope: unknown option/,
    /auth\.tokenTtlSeconds: .*number/,
  ];
  for (const pattern of expected)
    assert.ok(
      problems.some((p) => pattern.test(p)),
      `missing ${pattern} in:\n${problems.join("\n")}`,
    );
  assert.equal(problems.length, expected.length, problems.join("\n"));
});

test("a malformed or missing config file gets CONFIG_FILE_UNREADABLE naming the file", async () => {
  const file = join(dir, "broken.yaml");
  writeFileSync(file, "http: [unclosed\n");
  await assert.rejects(
    loadConfig({ file, env: {}, cwd: dir }),
    (e: unknown) => isVigilError(e, "CONFIG_FILE_UNREADABLE") && e.message.includes(file),
  );
  const list = join(dir, "list.yaml");
  writeFileSync(list, "- 1\n- 2\n");
  await assert.rejects(
    loadConfig({ file: list, env: {}, cwd: dir }),
    (e: unknown) => isVigilError(e, "CONFIG_FILE_UNREADABLE") && /mapping/.test(e.message),
  );
  await assert.rejects(
    loadConfig({ file: join(dir, "absent.yaml"), env: {}, cwd: dir }),
    (e: unknown) => isVigilError(e, "CONFIG_FILE_UNREADABLE") && /ENOENT/.test(e.message),
  );
});

test("prototype keys in a config file cannot pollute objects", async () => {
  const file = join(dir, "proto.json");
  writeFileSync(file, '{"__proto__": {"polluted": true}, "http": {"port": 9100}}');
  const config = await loadConfig({ file, env: {}, cwd: dir });
  assert.equal(config.http.port, 9100);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("tls.cert without tls.key is refused", async () => {
  await assert.rejects(
    loadConfig({ env: {}, cwd: dir, flags: { "tls-cert": "a.pem" } }),
    (e: unknown) => isVigilError(e, "CONFIG_INVALID") && /together/.test(e.message),
  );
});

test("config print redacts settings marked secret", async () => {
  const config = await loadConfig({ env: {}, cwd: dir, flags: { "tls-cert": "c.pem", "tls-key": "k.pem" } });
  const shown = redactedConfig(config) as { tls: { cert: string; key: string } };
  assert.equal(shown.tls.key, "[redacted]");
  assert.equal(shown.tls.cert, join(dir, "c.pem"));
});

test("docs/config.md, docs/errors.md and docs/signals.md match the code (run `npm run docs` to refresh)", () => {
  const root = new URL("../../../../", import.meta.url);
  for (const [file, render] of Object.entries(referenceDocs)) {
    assert.equal(readFileSync(new URL(file, root), "utf8"), render(), `${file} is stale: run npm run docs`);
  }
});
