import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { saveToken } from "../src/cli/credentials.js";
import { runCli, startPlatform, tempDir } from "./support.js";

test("vigil demo --no-wait runs Vigil, a fleet and the attack timeline, prints the summary and exits", async () => {
  const run = await runCli(["demo", "--duration", "12", "--devices", "12", "--no-wait"], { timeoutMs: 120_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /Vigil is up: API https:\/\/127\.0\.0\.1:\d+/);
  assert.match(run.stdout, /What happened/);
  assert.match(run.stdout, /Fleet: 12 devices/);
  assert.match(run.stdout, /message flood on demo-\S+: blocked/);
  assert.match(run.stdout, /topic reconnaissance on demo-\S+: blocked/);
  assert.match(run.stdout, /replayed enrollment token on demo-\S+: blocked .*replayed-token alarm/);
  assert.match(run.stdout, /tampered firmware image on demo-\S+: blocked .*update\(s\) refused by the device \(hash_mismatch\)/);
  assert.match(
    run.stdout,
    /firmware downgrade on demo-\S+: blocked .*unsolicited update\(s\) refused by the device \(downgrade\)/,
  );
  assert.match(run.stdout, /Mirai-style network scan on demo-\S+: .*detected .*network anomaly alert/);
  assert.match(run.stdout, /\d+ of 12 attacks were blocked \(by the gateway, or by the device refusing an update\)/);
  assert.doesNotMatch(run.stdout, /Not simulated yet/);
  // The temporary data dir (with the ground truth) is gone with the embedded Vigil.
  const file = /Ground truth of the attacks: (\S+)/.exec(run.stdout)?.[1];
  assert.ok(file !== undefined && !existsSync(file));
});

test("vigil simulate against a running Vigil: claim tokens with the operator's token, outcome from its audit log", async () => {
  const t = await startPlatform();
  const dir = tempDir("vigil-simcli-");
  try {
    const config = join(dir.path, "config");
    await saveToken(
      t.platform.url,
      { token: t.admin.token!, operator: "admin", expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
      join(config, "vigil", "credentials.json"),
    );
    const caFile = join(dir.path, "ca.pem");
    writeFileSync(caFile, t.platform.ca);
    const truthFile = join(dir.path, "truth.jsonl");
    const run = await runCli(
      [
        "--server",
        t.platform.url,
        "--ca-file",
        caFile,
        "--json",
        "simulate",
        "--devices",
        "4",
        "--mix",
        "hospital",
        "--duration",
        "6s",
        "--scenario",
        "recon",
        "--mqtt-url",
        t.platform.gateway.url,
        "--ground-truth",
        truthFile,
      ],
      { env: { XDG_CONFIG_HOME: config }, timeoutMs: 90_000 },
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as {
      stats: { devices: number; byProfile: Record<string, number> };
      attacks: { truth: { scenario: string; device: string }; blockedAfterMs: number | null }[];
    };
    assert.equal(result.stats.devices, 4);
    assert.ok(
      Object.keys(result.stats.byProfile).every((p) =>
        ["patient-monitor", "infusion-pump", "environmental-sensor", "ip-camera"].includes(p),
      ),
    );
    assert.equal(result.attacks.length, 1);
    assert.equal(result.attacks[0]!.truth.scenario, "recon");
    assert.notEqual(result.attacks[0]!.blockedAfterMs, null, "the denials were read back from the audit log");
    const lines = readFileSync(truthFile, "utf8").trim().split("\n");
    assert.deepEqual(Object.keys(JSON.parse(lines[0]!) as object).slice(0, 4), ["device", "scenario", "start", "end"]);
  } finally {
    await t.stop();
    dir.remove();
  }
});

test("vigil simulate refuses an unknown scenario, listing the available ones (exit 2)", async () => {
  const run = await runCli(["simulate", "--embedded", "--scenario", "mirai"], { timeoutMs: 30_000 });
  assert.equal(run.code, 2);
  assert.match(run.stderr, /scenario mirai is unknown/);
  assert.match(run.stderr, /firmware-tamper, firmware-downgrade, network-scan/);
});

test("vigil simulate --save-identities then --identities: the second run connects the saved fleet without enrolling", async () => {
  const dir = tempDir("vigil-simids-");
  try {
    const data = join(dir.path, "vigil");
    const ids = join(dir.path, "fleet");
    const first = await runCli(
      ["--json", "simulate", "--embedded", "--data-dir", data, "--devices", "4", "--duration", "1s", "--save-identities", ids],
      { timeoutMs: 90_000 },
    );
    assert.equal(first.code, 0, first.stderr);
    const manifest = JSON.parse(readFileSync(join(ids, "fleet.json"), "utf8")) as { devices: { id: string }[] };
    assert.equal(manifest.devices.length, 4);
    const second = await runCli(
      ["--json", "simulate", "--embedded", "--data-dir", data, "--devices", "3", "--duration", "1s", "--identities", ids],
      { timeoutMs: 90_000 },
    );
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /Connecting up to 3 saved devices/);
    assert.doesNotMatch(second.stderr, /Enrolling/);
    const stats = (JSON.parse(second.stdout) as { stats: { devices: number; enrollFailures: number } }).stats;
    assert.equal(stats.devices, 3);
    // Identities from another Vigil (another data dir, another CA) are refused, saying why; the saved fleet is kept.
    const other = await runCli(["simulate", "--embedded", "--devices", "3", "--duration", "1s", "--identities", ids], {
      timeoutMs: 90_000,
    });
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /enrolled with another Vigil/);
    assert.equal((JSON.parse(readFileSync(join(ids, "fleet.json"), "utf8")) as { devices: unknown[] }).devices.length, 4);
  } finally {
    dir.remove();
  }
});
