// `vigil devices set-password ID --password-file F` (issue 4, legacy devices).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cliFirstLogin, runCli, startDaemon, tempDir, waitForExit } from "./support.js";

const work = tempDir("vigil-legacycli-");
after(() => work.remove());

test("CLI: devices set-password reads the password from a file; a short one is refused", async () => {
  const dataDir = join(work.path, "data");
  const env = { XDG_CONFIG_HOME: join(work.path, "xdg") };
  const daemon = await startDaemon(["--data-dir", dataDir, "--http-port", "0", "--log-level", "warn"], { env });
  const cli = (...args: string[]) => runCli([...args, "--data-dir", dataDir], { env });
  try {
    writeFileSync(join(work.path, "pw"), "legacy cli passphrase\n");
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
    const csv = join(work.path, "devices.csv");
    writeFileSync(csv, `old-meter-1,${"ab".repeat(32)},smart-meter\n`);
    const imported = await cli("devices", "import", csv);
    assert.equal(imported.code, 0, imported.stderr);

    const good = join(work.path, "device.pass");
    writeFileSync(good, "a-long-legacy-device-password\n", { mode: 0o600 });
    const set = await cli("devices", "set-password", "old-meter-1", "--password-file", good);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /MQTT password of old-meter-1 set at \S+; the device is marked legacy/);

    const short = join(work.path, "short.pass");
    writeFileSync(short, "short\n");
    const weak = await cli("devices", "set-password", "old-meter-1", "--password-file", short);
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /DEVICE_PASSWORD_WEAK/);
  } finally {
    daemon.child.kill("SIGTERM");
    await waitForExit(daemon.child);
  }
});
