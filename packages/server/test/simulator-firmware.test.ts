import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Fleet, SignalObserver, analyse, platformTarget, runScenario, runTimeline } from "../src/simulator/index.js";
import { waitFor } from "./gateway-support.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";

let t: TestPlatform;
let fleet: Fleet;
let observer: SignalObserver;
const dir = tempDir("vigil-simfw-");

before(async () => {
  t = await startPlatform({ flags: { "ota-tick-ms": "50" } });
  observer = new SignalObserver(t.platform.bus);
  fleet = new Fleet({
    target: platformTarget(t.platform),
    workDir: join(dir.path, "fleet"),
    seed: 9,
    oddities: { reboot: 0, blip: 0 },
  });
  await fleet.start(4, "factory");
});

after(async () => {
  await fleet.stop();
  observer.stop();
  await t.stop();
  dir.remove();
});

const ctx = () => ({ fleet, signal: new AbortController().signal });

test("firmware tamper: the campaign offers a signed release whose stored image was changed; the device refuses it (hash) and Vigil records ota.failed", async () => {
  const device = fleet.devices().find((d) => d.profile === "smart-meter") ?? fleet.devices()[0]!;
  const file = join(dir.path, "truth.jsonl");
  const run = await runTimeline(fleet, [{ scenario: "firmware-tamper", atMs: 0, durationMs: 8_000, device: device.id }], {
    groundTruthFile: file,
  });
  assert.deepEqual(run.errors, []);
  const truth = JSON.parse((await readFile(file, "utf8")).trim()) as {
    scenario: string;
    device: string;
    detail: Record<string, unknown>;
  };
  assert.equal(truth.scenario, "firmware-tamper");
  assert.equal(truth.device, device.id);
  const detail = truth.detail as {
    release: string;
    deviceState: string;
    refusedFor: string;
    runningBefore: string;
    runningAfter: string;
  };
  assert.equal(detail.deviceState, "failed");
  assert.equal(detail.refusedFor, "hash_mismatch");
  assert.equal(detail.runningAfter, detail.runningBefore, "the device keeps its firmware");
  await waitFor(() => observer.of("ota.failed", device.id).length > 0, 5_000, "ota.failed");
  assert.equal(observer.of("ota.failed", device.id)[0]!.reason, "hash_mismatch");
  // The attacker's change was undone: the stored image matches its signed hash again.
  const artifact = await t.platform.updates.getArtifact(detail.release);
  const stored = await readFile(t.platform.updates.imagePath(artifact));
  assert.equal(createHash("sha256").update(stored).digest("hex"), artifact.sha256);
  const outcome = analyse(run.truths, observer.signals).attacks[0]!;
  assert.notEqual(outcome.blockedAfterMs, null);
  assert.notEqual(outcome.detectedAfterMs, null);
});

test("firmware downgrade: an older signed release pushed straight to the device is refused (downgrade) and Vigil records ota.refused", async () => {
  const device = fleet.devices().find((d) => d.profile === "plc") ?? fleet.devices()[1]!;
  const truth = await runScenario(ctx(), "firmware-downgrade", device, 2_000);
  const detail = truth.detail as {
    offeredVersion: string;
    campaign: string;
    deviceState: string;
    refusedFor: string;
    runningBefore: string;
    runningAfter: string;
  };
  assert.equal(detail.deviceState, "failed");
  assert.equal(detail.refusedFor, "downgrade");
  assert.ok(detail.offeredVersion.localeCompare(detail.runningBefore, undefined, { numeric: true }) < 0, JSON.stringify(detail));
  assert.equal(detail.runningAfter, detail.runningBefore);
  await waitFor(() => observer.of("ota.refused", device.id).length > 0, 5_000, "ota.refused");
  assert.equal(observer.of("ota.refused", device.id)[0]!.reason, "downgrade");
  // No campaign of Vigil's was involved: nothing records it as a campaign failure.
  assert.equal(observer.of("ota.failed", device.id).length, 0);
});

test("firmware scenarios against a Vigil in another process say they need the update store", async () => {
  const remote = new Fleet({
    target: { ...platformTarget(t.platform), ota: undefined },
    workDir: join(dir.path, "remote"),
    seed: 3,
  });
  const device = fleet.devices()[2]!;
  await assert.rejects(
    runScenario({ fleet: remote, signal: new AbortController().signal }, "firmware-tamper", device, 1_000),
    /need an in-process Vigil/,
  );
});
