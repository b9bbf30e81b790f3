import assert from "node:assert/strict";
import { test } from "node:test";
import { isVigilError, parseDeviceId, type DeviceId } from "../core/index.js";
import { compilePolicy, CONTROL_ACK_MAX_PAYLOAD_BYTES, tierLimits, TIERS } from "./compile-policy.js";
import type { Decision } from "./decision.js";
import { evaluate, evaluatePublish, evaluateSubscribe } from "./evaluate.js";
import { loadDefaultProfiles, parseProfile } from "./profile-loader.js";

// Odd numbers, so that the halving rule's rounding shows.
const profile = parseProfile(
  `id: odd-meter
description: A profile for tier tests.
vertical: energy
safetyCritical: false
publish: [ "devices/{device}/telemetry" ]
subscribe: [ "devices/{device}/tariff" ]
maxMessagesPerSecond: 5
burst: 7
maxPayloadBytes: 1001
maxQos: 2
retainAllowed: true
sensitivePayload: true
`,
  "odd-meter.yaml",
);
const m1 = parseDeviceId("m1") as DeviceId;

/** The deny reason, or "allow". */
const reasonOf = (decision: Decision) => (decision.effect === "deny" ? decision.reason : "allow");

const publish = (policy: ReturnType<typeof compilePolicy>, topic: string, qos: 0 | 1 | 2 = 0, retain = false, bytes = 10) =>
  evaluatePublish(policy, topic, qos, retain, bytes);

test("quarantine: only its own control channel — subscribe vigil/{device}/cmd, publish vigil/{device}/ack", () => {
  const p = compilePolicy(profile, m1, "quarantine");
  assert.deepEqual(
    p.rules.map((r) => r.id),
    ["control-channel:subscribe:vigil/{device}/cmd", "control-channel:publish:vigil/{device}/ack"],
  );
  assert.equal(evaluateSubscribe(p, "vigil/m1/cmd", 1).effect, "allow");
  assert.equal(publish(p, "vigil/m1/ack", 1).effect, "allow");
  assert.deepEqual(publish(p, "devices/m1/telemetry"), {
    effect: "deny",
    rule: { id: "builtin:default-deny", source: "builtin" },
    reason: "topic_not_allowed",
  });
  assert.equal(evaluateSubscribe(p, "devices/m1/tariff", 0).effect, "deny");
  assert.equal(evaluate(p, { kind: "publish", topic: "vigil/other/ack", qos: 0, retain: false, payloadBytes: 1 }).effect, "deny");
});

test("restricted: the profile's topics with rate, burst and payload halved (rounded down, at least 1) and no retain", () => {
  const p = compilePolicy(profile, m1, "restricted");
  assert.deepEqual(p.rate, { perSecond: 2.5, burst: 3 });
  assert.equal(p.maxPayloadBytes, 500);
  assert.equal(publish(p, "devices/m1/telemetry", 2, false, 500).effect, "allow", "QoS is not narrowed by the tier");
  assert.equal(reasonOf(publish(p, "devices/m1/telemetry", 0, false, 501)), "payload_too_large");
  const retained = publish(p, "devices/m1/telemetry", 0, true);
  assert.equal(reasonOf(retained), "retain_not_allowed", "the profile allows retain; restricted does not");
  const ack = publish(p, "vigil/m1/ack", 0, false, 501);
  assert.equal(reasonOf(ack), "payload_too_large", "the ack limit follows the tier's payload limit");
  assert.equal(evaluateSubscribe(p, "devices/m1/tariff", 2).effect, "allow");
});

test("halving never reaches zero and keeps fractional rates", () => {
  const tiny = { ...profile, maxMessagesPerSecond: 0.1, burst: 1, maxPayloadBytes: 1 };
  assert.deepEqual(tierLimits(tiny, "restricted"), {
    maxMessagesPerSecond: 0.05,
    burst: 1,
    maxPayloadBytes: 1,
    maxQos: 2,
    retainAllowed: false,
  });
  assert.deepEqual(tierLimits(tiny, "quarantine"), tierLimits(tiny, "restricted"));
});

test("standard: the profile as written; trusted: exactly the same (no widening)", () => {
  const standard = compilePolicy(profile, m1, "standard");
  const trusted = compilePolicy(profile, m1, "trusted");
  assert.deepEqual(standard.rate, { perSecond: 5, burst: 7 });
  assert.equal(standard.maxPayloadBytes, 1001);
  assert.equal(publish(standard, "devices/m1/telemetry", 2, true, 1001).effect, "allow");
  assert.deepEqual(trusted.rules, standard.rules);
  assert.deepEqual(trusted.rate, standard.rate);
  assert.equal(trusted.maxPayloadBytes, standard.maxPayloadBytes);
  assert.equal(publish(trusted, "devices/m1/other").effect, "deny");
});

test("tiers only narrow: every rule of a lower tier is in the tier above, with limits no larger", () => {
  for (let i = 1; i < TIERS.length; i++) {
    const lower = compilePolicy(profile, m1, TIERS[i - 1]!);
    const upper = compilePolicy(profile, m1, TIERS[i]!);
    for (const rule of lower.rules) {
      const above = upper.rules.find((r) => r.id === rule.id);
      assert.ok(above, `${rule.id} of ${lower.tier} is missing from ${upper.tier}`);
      assert.ok(rule.maxPayloadBytes <= above.maxPayloadBytes && rule.maxQos <= above.maxQos);
      assert.ok(!rule.retainAllowed || above.retainAllowed);
    }
    assert.ok(lower.rate.perSecond <= upper.rate.perSecond && lower.rate.burst <= upper.rate.burst);
  }
});

test("the control channel is QoS <= 1 and never retained, whatever the profile", async () => {
  const sensor = (await loadDefaultProfiles()).get("environmental-sensor")!;
  assert.equal(sensor.maxQos, 0);
  const p = compilePolicy(sensor, m1, "standard");
  assert.equal(evaluateSubscribe(p, "vigil/m1/cmd", 1).effect, "allow", "commands arrive at least once");
  const telemetry = publish(p, "devices/m1/telemetry", 1);
  assert.equal(reasonOf(telemetry), "qos_too_high");
  const ack = publish(compilePolicy(profile, m1, "standard"), "vigil/m1/ack", 0, false, CONTROL_ACK_MAX_PAYLOAD_BYTES + 1);
  assert.equal(reasonOf(ack), "payload_too_large", "acks are capped at 4 KiB even when the profile allows more");
});

test("recompiling for a new tier gives a new policy and leaves the old one as it was", () => {
  const before = compilePolicy(profile, m1, "standard");
  const after = compilePolicy(profile, m1, "quarantine");
  assert.equal(publish(before, "devices/m1/telemetry").effect, "allow");
  assert.equal(publish(after, "devices/m1/telemetry").effect, "deny");
  assert.equal(before.tier, "standard");
  assert.ok(Object.isFrozen(before) && Object.isFrozen(before.rules) && Object.isFrozen(before.rate));
});

test("a template too long for the limits with this device id is reported unusable and denied by the limit", () => {
  const longId = parseDeviceId("x".repeat(100)) as DeviceId;
  const p = compilePolicy(profile, longId, "standard", { limits: { maxTopicBytes: 64, maxTopicLevels: 8 } });
  assert.deepEqual(
    p.unusable.map((u) => [u.rule.id, u.reason]),
    [
      ["control-channel:subscribe:vigil/{device}/cmd", "topic_too_long"],
      ["control-channel:publish:vigil/{device}/ack", "topic_too_long"],
      ["profile:publish:devices/{device}/telemetry", "topic_too_long"],
      ["profile:subscribe:devices/{device}/tariff", "topic_too_long"],
    ],
  );
  const d = publish(p, `devices/${longId}/telemetry`);
  assert.equal(reasonOf(d), "topic_too_long");
});

test("refuses a device id that is not one, and topic limits out of range", () => {
  assert.throws(
    () => compilePolicy(profile, "../m1" as DeviceId, "standard"),
    (e: unknown) => isVigilError(e, "DEVICE_ID_INVALID"),
  );
  assert.throws(
    () => compilePolicy(profile, "m1/#" as DeviceId, "standard"),
    (e: unknown) => isVigilError(e, "DEVICE_ID_INVALID"),
  );
  assert.throws(
    () => compilePolicy(profile, m1, "standard", { limits: { maxTopicBytes: 70_000, maxTopicLevels: 8 } }),
    (e: unknown) => isVigilError(e, "CONFIG_INVALID"),
  );
  assert.throws(
    () => compilePolicy(profile, m1, "standard", { limits: { maxTopicBytes: 256, maxTopicLevels: 0 } }),
    (e: unknown) => isVigilError(e, "CONFIG_INVALID"),
  );
});
