import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Platform, createRootLogger, loadConfig } from "@vigil/server";
import { DeviceSdkError, probeServer } from "../src/index.js";

let platform: Platform;
const dir = mkdtempSync(join(tmpdir(), "vigil-sdk-"));

before(async () => {
  const config = await loadConfig({ env: {}, cwd: dir, flags: { "data-dir": join(dir, "data"), "http-port": "0" } });
  platform = new Platform({ config, log: createRootLogger({ level: "silent" }), processMetrics: false });
  await platform.start();
});
after(async () => {
  await platform.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a device provisioned with Vigil's CA reaches its server and reads a valid health answer", async () => {
  const health = await probeServer({ url: platform.url, ca: platform.ca });
  assert.equal(health.status, "ok");
  assert.match(health.version, /^\d+\.\d+\.\d+/);
});

test("a server whose certificate the provisioned CA did not sign is refused as untrusted", async () => {
  const other = mkdtempSync(join(tmpdir(), "vigil-sdk-other-"));
  const config = await loadConfig({ env: {}, cwd: other, flags: { "data-dir": join(other, "data"), "http-port": "0" } });
  const impostor = new Platform({ config, log: createRootLogger({ level: "silent" }), processMetrics: false });
  await impostor.start();
  try {
    await assert.rejects(
      probeServer({ url: impostor.url, ca: platform.ca }),
      (e: unknown) => e instanceof DeviceSdkError && e.code === "SDK_SERVER_UNTRUSTED",
    );
  } finally {
    await impostor.stop();
    rmSync(other, { recursive: true, force: true });
  }
});

test("plain http and unreachable servers get their own codes", async () => {
  await assert.rejects(
    probeServer({ url: "http://127.0.0.1:1", ca: platform.ca }),
    (e: unknown) => e instanceof DeviceSdkError && e.code === "SDK_SERVER_UNTRUSTED",
  );
  await assert.rejects(
    probeServer({ url: "https://127.0.0.1:1", ca: platform.ca }),
    (e: unknown) => e instanceof DeviceSdkError && e.code === "SDK_SERVER_UNREACHABLE",
  );
});
