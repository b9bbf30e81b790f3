import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { OtaAgent, connect, loadCredentials, type DeviceConnection } from "../../device-sdk/src/index.js";
import { callApi } from "../src/cli/client.js";
import { connectDevice, recordSignals, waitFor } from "./gateway-support.js";
import { SimulatedSlots, addArtifact, enrollWithFirmware, firmwareImage } from "./ota-support.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";

// Rolling firmware back through OTA as an incident's action: the device goes back to the version
// it ran before the suspect (uncommitted) install, and the throttle waiting for patched firmware
// lifts itself once the device reports the good version and its assessment is clean. Detection is
// covered by the attack matrix: here the finding is raised on the bus as detection raises it.

let t: TestPlatform;
const dir = tempDir("vigil-response-fw-");
let connection: DeviceConnection | undefined;
let slots: SimulatedSlots;
let idle: Awaited<ReturnType<typeof connectDevice>> | undefined;

before(async () => {
  const playbooks = join(dir.path, "playbooks.yaml");
  writeFileSync(
    playbooks,
    `- id: meters-rollback
  match: { rules: [exfiltration], profiles: [smart-meter] }
  actions: [{ type: throttle, releaseOn: patched }, { type: rollback }, { type: notify }]
  approval: { require: never }
`,
  );
  t = await startPlatform({ flags: { "ota-tick-ms": "50", "response-playbooks-file": playbooks, "response-tick-ms": "60000" } });
  await callApi(t.admin, "POST", "/api/v1/ota/keys", { algorithm: "ed25519" });
  await addArtifact(t.admin, firmwareImage(16 * 1024), { version: "1.1.0", profile: "smart-meter", counter: "1" });
  for (const id of ["fw-1", "fw-2", "fw-3"]) await enrollWithFirmware(t.platform, dir.path, id, "smart-meter");
  slots = new SimulatedSlots("1.0.0");
  const agent = await OtaAgent.open({
    server: t.platform.url,
    dir: join(dir.path, "fw-1"),
    profile: "smart-meter",
    hardware: "sim",
    currentVersion: "1.0.0",
    slots,
  });
  connection = await connect({ url: t.platform.gateway.url, dir: join(dir.path, "fw-1") });
  agent.attach(connection);
});
after(async () => {
  await connection?.close().catch(() => undefined);
  idle?.end(true);
  await t.stop();
  dir.remove();
});

function finding(device: string, id: string): void {
  t.platform.bus.emit("finding.raised", {
    id,
    device,
    rule: "exfiltration",
    severity: "high",
    category: "exfiltration",
    evidence: JSON.stringify({ bytesPerSecond: 90_000 }),
  });
}

test("rollback: the device goes back to its last good version through OTA; the incident recovers when it reports it", async () => {
  const signals = recordSignals(t.platform, [
    "ota.installed",
    "ota.rolled_back",
    "response.action_taken",
    "incident.state_changed",
  ]);
  try {
    // A second target that never answers keeps the campaign from completing (and committing).
    idle = await connectDevice(t.platform.gateway.url, await loadCredentials(join(dir.path, "fw-2")));
    const created = await callApi<{ id: string }>(t.admin, "POST", "/api/v1/ota/campaigns", {
      name: "meters 1.1.0",
      artifact: "smart-meter-1.1.0",
      target: { devices: ["fw-1", "fw-2"] },
      canaryPercent: 100,
      wavePercent: 100,
      deviceTimeoutSeconds: 3600,
    });
    await callApi(t.admin, "POST", `/api/v1/ota/campaigns/${created.data.id}/start`);
    await waitFor(() => signals.of("ota.installed").some((s) => s.device === "fw-1"), 15_000, "1.1.0 installed");
    assert.equal(slots.running, "1.1.0");

    finding("fw-1", "f-fw-1");
    await waitFor(
      () => signals.of("incident.state_changed").some((s) => s.device === "fw-1" && s.to === "resolved"),
      10_000,
      "resolved",
    );
    assert.equal(slots.running, "1.0.0", "the device runs its last good version");
    const rolled = signals.of("ota.rolled_back").find((s) => s.device === "fw-1");
    assert.equal(rolled?.version, "1.0.0");
    assert.equal(rolled?.campaign, created.data.id);
    const actions = signals.of("response.action_taken").filter((a) => a.device === "fw-1");
    assert.deepEqual(
      actions.map((a) => `${a.action}:${a.outcome}`),
      ["throttle:done", "rollback:sent", "notify:done", "rollback:done", "release:done"],
    );
    assert.match(actions[3]!.detail, /last good version 1\.0\.0/);
    assert.match(actions[4]!.detail, /patched: firmware 1\.0\.0 rolled back, assessment clean/);
    const [inc] = await t.platform.response.list({ limit: 1, device: "fw-1" });
    assert.equal(inc?.mitigation, null);
    assert.deepEqual(
      inc.timeline.filter((e) => e.kind === "state").map((e) => (e.data as { to: string }).to),
      ["open", "contained", "recovering", "resolved"],
    );
    // OTA persists the reported version with its next tick.
    let recorded: string | null | undefined;
    await waitFor(
      () => {
        void t.platform.store.devices.get("fw-1" as never).then((d) => (recorded = d?.firmwareVersion));
        return recorded === "1.0.0";
      },
      5_000,
      "the device record says 1.0.0",
    );
  } finally {
    signals.stop();
  }
});

test("rollback with nothing to roll back: the action fails clearly and the throttle stays in force", async () => {
  finding("fw-3", "f-fw-3");
  await waitFor(() => t.platform.response.floor("fw-3", "trusted") === "restricted", 5_000, "throttled");
  await t.platform.response.idle();
  const [inc] = await t.platform.response.list({ limit: 1, device: "fw-3" });
  const failed = inc!.timeline.find((e) => e.ref === "rollback");
  assert.match(failed!.summary, /rollback: failed — device fw-3 has no uncommitted install to roll back/);
  assert.equal(inc!.state, "contained");
  assert.equal(inc!.mitigation?.releaseOn, "patched");
  assert.equal(inc!.awaitingFirmware ?? null, null);
});
