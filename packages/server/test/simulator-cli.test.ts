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
  assert.match(run.stdout, /\d+ of 9 attacks were blocked at the gateway/);
  assert.match(run.stdout, /Not simulated yet: firmware-tamper/);
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

test("vigil simulate refuses a scenario that is not available yet, saying why (exit 2)", async () => {
  const run = await runCli(["simulate", "--embedded", "--scenario", "firmware-tamper"], { timeoutMs: 30_000 });
  assert.equal(run.code, 2);
  assert.match(run.stderr, /firmware-tamper is not available yet: needs the OTA agent/);
});
