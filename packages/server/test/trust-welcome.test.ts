import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { DeviceTrustResponse, TrustSummaryResponse } from "@vigil/contract";
import { connect, enroll, type DeviceConnection } from "../../device-sdk/src/index.js";
import { callApi } from "../src/cli/client.js";
import type { Clock, Millis } from "../src/core/index.js";
import { recordSignals, waitFor } from "./gateway-support.js";
import { startPlatform, tempDir, type TestPlatform } from "./support.js";

/** Real time plus an offset the test moves forward: certificates stay valid for TLS, trust sees days pass. */
let offset = 0;
const clock: Clock = { now: () => (Date.now() + offset) as Millis };
const HOUR = 3_600_000;

let t: TestPlatform;
const dir = tempDir("vigil-trust-");

before(async () => {
  t = await startPlatform({ clock });
});
after(async () => {
  await t.stop();
  dir.remove();
});

// First: the welcome test moves the clock days ahead, past the admin token's expiry.
test("trust API: unknown devices are 404, and every route needs a token", async () => {
  await assert.rejects(callApi(t.admin, "GET", "/api/v1/devices/nobody/trust"), { code: "DEVICE_NOT_FOUND", status: 404 });
  await assert.rejects(callApi(t.anonymous, "GET", "/api/v1/trust"), { code: "AUTH_REQUIRED", status: 401 });
});

test("welcome path: claim token -> enroll -> scored and tiered -> connect -> first publish delivered; findings quarantine the live session, clean time restores it", async () => {
  const platform = t.platform;
  const gateway = platform.gateway;
  const signals = recordSignals(platform, ["trust.changed", "gateway.denied", "gateway.policy_changed", "gateway.disconnected"]);
  const delivered: string[] = [];
  const unsubscribe = await gateway.subscribe("devices/+/telemetry", (topic, payload) =>
    delivered.push(`${topic} ${payload.toString()}`),
  );
  let device: DeviceConnection | undefined;
  try {
    // 1. Enroll with a claim token, declaring firmware (posture at the door).
    const { tokens } = await platform.enrollment.createTokens({
      profile: "environmental-sensor",
      ttlSeconds: 600,
      count: 1,
      by: "test",
    });
    await enroll({
      server: platform.url,
      caPem: platform.ca,
      deviceId: "env-1",
      dir: join(dir.path, "env-1"),
      attestation: { kind: "claim-token", token: tokens[0]! },
      posture: { firmwareVersion: "2.4.1" },
    });

    // 2. Scored at once from its posture: claim token (40), EC P-256, fresh certificate, firmware declared.
    const scored = platform.trust.explain("env-1")!;
    assert.equal(scored.vertical, "smart-city");
    assert.equal(scored.tier, "standard");
    const factor = (id: string) => scored.factors.find((f) => f.id === id)!;
    assert.equal(factor("attestation").value, 0.4);
    assert.equal(factor("keyStrength").value, 0.9);
    assert.equal(factor("firmware").value, 0.8);
    assert.equal(factor("certificate").value, 1);
    assert.deepEqual(
      signals.of("trust.changed").map((c) => [c.device, c.from, c.to]),
      [["env-1", null, "standard"]],
    );

    // 3. Connects through the gateway with the SDK at that tier; its first publish is delivered.
    device = await connect({ url: gateway.url, dir: join(dir.path, "env-1"), reconnect: { minMs: 20, maxMs: 100 } });
    assert.equal(gateway.policyOf("env-1")?.tier, "standard");
    await device.publishTelemetry({ t: 21.5 }, { qos: 0 });
    await waitFor(() => delivered.length === 1, 5_000, "first telemetry");
    assert.equal(delivered[0], 'devices/env-1/telemetry {"t":21.5}');

    // 4. Evidence: two high findings -> finding debt 70 -> quarantine, applied to the live session.
    for (const id of ["find-1", "find-2"]) {
      platform.bus.emit("finding.raised", {
        id,
        device: "env-1",
        rule: "topic-scan",
        severity: "high",
        category: "scanning",
        evidence: "subscribed to 40 topics in 2 s",
      });
    }
    await waitFor(() => gateway.policyOf("env-1")?.tier === "quarantine", 5_000, "quarantine on the live session");
    assert.deepEqual(
      signals
        .of("trust.changed")
        .slice(1)
        .map((c) => [c.from, c.to]),
      [
        ["standard", "restricted"],
        ["restricted", "quarantine"],
      ],
    );
    // Allowed before, denied after: the publish is refused and the device disconnected ([MQTT-3.3.5-2]).
    await device.publishTelemetry({ t: 22 }, { qos: 0 }).catch(() => undefined);
    await waitFor(() => signals.of("gateway.denied").length > 0, 5_000, "denial");
    assert.equal(signals.of("gateway.denied")[0]!.topic, "devices/env-1/telemetry");
    assert.equal(delivered.length, 1, "nothing delivered while quarantined");

    // The SDK reconnects; in quarantine only the control channel is granted.
    await waitFor(() => gateway.isConnected("env-1") && device!.connected, 5_000, "reconnect");
    assert.equal(gateway.policyOf("env-1")?.tier, "quarantine");

    // The API explains it: the debt ceiling, the findings as evidence, the history.
    const api = await callApi<DeviceTrustResponse>(t.admin, "GET", "/api/v1/devices/env-1/trust");
    assert.equal(api.data.tier, "quarantine");
    assert.ok(api.data.ceilings.some((c) => c.tier === "quarantine" && c.evidence.some((e) => e.ref === "find-2")));
    const behaviour = api.data.factors.find((f) => f.id === "behaviour")!;
    assert.deepEqual(
      behaviour.evidence.map((e) => e.ref),
      ["find-1", "find-2"],
    );
    assert.ok(api.data.history.length >= 3);
    assert.equal(api.data.history[0]!.tier, "quarantine");
    const summary = await callApi<TrustSummaryResponse>(t.admin, "GET", "/api/v1/trust");
    assert.equal(summary.data.tiers.quarantine, 1);
    assert.equal(summary.data.lowest[0]!.device, "env-1");

    // 5. Recovery by evidence only: clean time observed on the live session, one hour per observation.
    for (let hour = 0; hour < 24 * 10 && platform.trust.explain("env-1")!.tier !== "standard"; hour++) {
      offset += HOUR;
      platform.trust.observe();
    }
    assert.equal(platform.trust.explain("env-1")!.tier, "standard");
    await waitFor(() => gateway.policyOf("env-1")?.tier === "standard", 5_000, "standard again on the live session");
    await device.publishTelemetry({ t: 23 }, { qos: 0 });
    await waitFor(() => delivered.length === 2, 5_000, "telemetry after recovery");
    assert.equal(delivered[1], 'devices/env-1/telemetry {"t":23}');
  } finally {
    await device?.close();
    await unsubscribe();
    signals.stop();
  }
});
