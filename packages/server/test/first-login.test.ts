import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Platform, loadConfig } from "../src/app/index.js";
import { ApiError, callApi } from "../src/cli/client.js";
import { totpCode } from "../src/identity/index.js";
import { memoryLogger, tempDir } from "./support.js";

test("first start: one-time admin password in a 0600 file; it must be changed before anything else; the file then disappears", async () => {
  const dir = tempDir();
  const config = await loadConfig({ env: {}, cwd: dir.path, flags: { "data-dir": join(dir.path, "data"), "http-port": "0" } });
  const shown: string[] = [];
  const { log, lines } = memoryLogger();
  const platform = new Platform({ config, log, processMetrics: false, onInitialPassword: (c) => shown.push(c.password) });
  await platform.start();
  try {
    assert.equal(shown.length, 1);
    const file = join(config.dataDir, "initial-admin-password");
    assert.equal(readFileSync(file, "utf8").trim(), shown[0]);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(config.dataDir).mode & 0o777, 0o700);
    assert.ok(!lines.join("\n").includes(shown[0]!), "the password is never logged");

    const anonymous = { url: platform.url, ca: platform.ca };
    const login = await callApi<{ token: string; mustChangePassword: boolean }>(anonymous, "POST", "/api/v1/auth/login", {
      username: "admin",
      password: shown[0],
    });
    assert.equal(login.data.mustChangePassword, true);
    const admin = { ...anonymous, token: login.data.token };
    const refused = await callApi(admin, "GET", "/api/v1/devices").catch((e: unknown) => e);
    assert.ok(refused instanceof ApiError && refused.status === 403 && refused.code === "AUTH_PASSWORD_CHANGE_REQUIRED");
    await callApi(admin, "POST", "/api/v1/auth/password", { currentPassword: shown[0], newPassword: "my own long passphrase" });
    assert.equal(existsSync(file), false);
    // Then a second factor, before anything else.
    const notYet = await callApi(admin, "GET", "/api/v1/devices").catch((e: unknown) => e);
    assert.ok(notYet instanceof ApiError && notYet.status === 403 && notYet.code === "AUTH_MFA_ENROLLMENT_REQUIRED");
    const enrol = await callApi<{ secret: string; otpauthUri: string }>(admin, "POST", "/api/v1/auth/mfa/totp");
    assert.match(enrol.data.otpauthUri, /^otpauth:\/\/totp\//);
    const confirmed = await callApi<{ recoveryCodes: string[] }>(admin, "POST", "/api/v1/auth/mfa/totp/confirm", {
      code: await totpCode(enrol.data.secret, Date.now()),
    });
    assert.equal(confirmed.data.recoveryCodes.length, 10);
    const devices = await callApi<{ items: unknown[] }>(admin, "GET", "/api/v1/devices");
    assert.deepEqual(devices.data.items, []);
  } finally {
    await platform.stop();
  }
  // A second start on the same data dir creates no new admin and prints nothing.
  const again = new Platform({ config, log, processMetrics: false, onInitialPassword: (c) => shown.push(c.password) });
  await again.start();
  await again.stop();
  assert.equal(shown.length, 1);
  dir.remove();
});
