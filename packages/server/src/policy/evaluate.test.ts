import assert from "node:assert/strict";
import { test } from "node:test";
import { compilePolicy } from "./compile-policy.js";
import { DENY_REASONS, type Decision, type DenyReason } from "./decision.js";
import { evaluate, evaluatePublish, evaluateSubscribe, type PolicyRequest } from "./evaluate.js";
import { parseDeviceId, type DeviceId } from "../core/index.js";
import type { Qos } from "./profile.js";
import { loadDefaultProfiles, parseProfile } from "./profile-loader.js";

const labProfile = parseProfile(
  `id: lab-sensor
description: A profile for tests, independent of the shipped numbers.
vertical: generic
safetyCritical: false
publish:
  - devices/{device}/telemetry
  - devices/{device}/state
  - fleet/{profile}/{device}/hello
subscribe:
  - devices/{device}/config/#
  - devices/{device}/firmware
  - broadcast/+/notice
subscribeWildcards: true
maxMessagesPerSecond: 4
burst: 9
maxPayloadBytes: 1000
maxQos: 1
retainAllowed: true
sensitivePayload: false
`,
  "lab-sensor.yaml",
);
const d1 = parseDeviceId("d1") as DeviceId;
const policy = compilePolicy(labProfile, d1, "standard");

const pub = (topic: string, options: { qos?: Qos; retain?: boolean; payloadBytes?: number } = {}): PolicyRequest => ({
  kind: "publish",
  topic,
  qos: options.qos ?? 0,
  retain: options.retain ?? false,
  payloadBytes: options.payloadBytes ?? 10,
});
const sub = (topicFilter: string, qos: Qos = 0): PolicyRequest => ({ kind: "subscribe", topicFilter, qos });

function denied(decision: Decision): DenyReason {
  if (decision.effect !== "deny") assert.fail(`expected a denial, got ${JSON.stringify(decision)}`);
  return decision.reason;
}

function allowedBy(decision: Decision): string {
  assert.equal(decision.effect, "allow", `expected an allow, got ${JSON.stringify(decision)}`);
  return decision.rule.id;
}

// Every deny reason, each from a real input. The last test checks that none is missing.
const denials: [string, PolicyRequest, DenyReason][] = [
  ["NUL in the topic", pub("devices/d1/tele\u0000metry"), "topic_invalid"],
  ["empty topic", pub(""), "topic_invalid"],
  ["'+' inside a filter level", sub("devices/d1/config/con+fig"), "topic_invalid"],
  ["'#' not last", sub("devices/d1/#/x"), "topic_invalid"],
  ["lone high surrogate", pub("devices/d1/telemetry\uD800"), "topic_invalid_utf8"],
  ["lone low surrogate in a filter", sub("devices/d1/config/\uDC00"), "topic_invalid_utf8"],
  ["257 bytes", pub(`devices/d1/${"x".repeat(246)}`), "topic_too_long"],
  ["9 levels", pub("devices/d1/a/b/c/d/e/f/g"), "topic_too_deep"],
  ["$SYS publish", pub("$SYS/broker/load"), "sys_topic"],
  ["$SYS subscribe", sub("$SYS/broker/load"), "sys_topic"],
  ["$SYS/# subscribe", sub("$SYS/#"), "sys_topic"],
  ["shared subscription ($share is MQTT 5)", sub("$share/g/devices/d1/config/#"), "sys_topic"],
  ["publish as another device", pub("devices/other/telemetry"), "cross_device_topic"],
  ["publish as a device whose id extends ours", pub("devices/d10/telemetry"), "cross_device_topic"],
  ["subscribe to another device's commands", sub("vigil/other/cmd"), "cross_device_topic"],
  ["forge another device's ack", pub("vigil/other/ack"), "cross_device_topic"],
  ["publish to every device's telemetry", pub("devices/+/telemetry"), "cross_device_topic"],
  ["subscribe to every device's telemetry", sub("devices/+/telemetry"), "cross_device_topic"],
  ["subscribe to the whole devices tree", sub("devices/#"), "cross_device_topic"],
  ["publish with '#'", pub("devices/d1/telemetry/#"), "wildcard_publish"],
  ["publish with '+'", pub("devices/d1/+"), "wildcard_publish"],
  ["publish to '#'", pub("#"), "wildcard_publish"],
  ["a topic the profile does not list", pub("devices/d1/secrets"), "topic_not_allowed"],
  ["publish to its own command topic", pub("vigil/d1/cmd"), "topic_not_allowed"],
  ["subscribe to a publish-only topic", sub("devices/d1/telemetry"), "topic_not_allowed"],
  ["empty level, same words", pub("devices/d1//telemetry"), "topic_not_allowed"],
  ["a wildcard over its own tree beyond config", sub("devices/d1/+"), "wildcard_subscribe_not_allowed"],
  ["a wildcard over its own tree", sub("devices/d1/#"), "wildcard_subscribe_not_allowed"],
  ["everything", sub("#"), "wildcard_subscribe_not_allowed"],
  ["first-level wildcard", sub("+/d1/telemetry"), "wildcard_subscribe_not_allowed"],
  ["wider than broadcast/+/notice", sub("broadcast/#"), "wildcard_subscribe_not_allowed"],
  ["QoS 2 publish, profile max 1", pub("devices/d1/telemetry", { qos: 2 }), "qos_too_high"],
  ["QoS 2 subscribe, profile max 1", sub("devices/d1/config/+", 2), "qos_too_high"],
  ["QoS 2 on the control channel (max 1)", sub("vigil/d1/cmd", 2), "qos_too_high"],
  ["retained ack: the control channel never retains", pub("vigil/d1/ack", { retain: true }), "retain_not_allowed"],
  ["1001 bytes, limit 1000", pub("devices/d1/telemetry", { payloadBytes: 1001 }), "payload_too_large"],
];

for (const [what, request, reason] of denials) {
  test(`deny ${reason}: ${what}`, () => {
    const decision = evaluate(policy, request);
    assert.equal(denied(decision), reason);
    assert.ok(decision.rule.id.length > 0, "every denial names its rule");
  });
}

test("every deny reason is produced by a real input above", () => {
  assert.deepEqual(new Set(denials.map(([, , reason]) => reason)), new Set(DENY_REASONS));
});

test("denials name the rule that made them", () => {
  assert.equal(evaluate(policy, pub("$SYS/broker/load")).rule.id, "builtin:no-sys-topics");
  assert.equal(evaluate(policy, pub("devices/other/telemetry")).rule.id, "builtin:device-isolation");
  assert.equal(evaluate(policy, pub("devices/d1/+")).rule.id, "builtin:no-wildcard-publish");
  assert.equal(evaluate(policy, pub("devices/d1/\u0000")).rule.id, "builtin:topic-syntax");
  assert.equal(evaluate(policy, pub("1/2/3/4/5/6/7/8/9")).rule.id, "builtin:topic-limits");
  assert.equal(evaluate(policy, pub("devices/d1/secrets")).rule.id, "builtin:default-deny");
  assert.equal(
    evaluate(policy, pub("devices/d1/telemetry", { payloadBytes: 5000 })).rule.id,
    "profile:publish:devices/{device}/telemetry",
    "a limit denial names the rule whose limit it broke",
  );
});

test("the profile's publish topics and the control-channel ack are allowed, within limits", () => {
  assert.equal(allowedBy(evaluate(policy, pub("devices/d1/telemetry"))), "profile:publish:devices/{device}/telemetry");
  assert.equal(
    allowedBy(evaluate(policy, pub("devices/d1/state", { qos: 1, retain: true, payloadBytes: 1000 }))),
    "profile:publish:devices/{device}/state",
  );
  assert.equal(allowedBy(evaluate(policy, pub("fleet/lab-sensor/d1/hello"))), "profile:publish:fleet/{profile}/{device}/hello");
  assert.equal(allowedBy(evaluate(policy, pub("vigil/d1/ack", { qos: 1 }))), "control-channel:publish:vigil/{device}/ack");
  assert.equal(
    allowedBy(evaluate(policy, pub("devices/d1/telemetry", { payloadBytes: 0 }))),
    "profile:publish:devices/{device}/telemetry",
  );
});

test("subscribe: a filter is allowed when one allowed filter covers every topic it can match", () => {
  const config = "profile:subscribe:devices/{device}/config/#";
  assert.equal(allowedBy(evaluate(policy, sub("devices/d1/config/#", 1))), config);
  assert.equal(allowedBy(evaluate(policy, sub("devices/d1/config/+"))), config);
  assert.equal(allowedBy(evaluate(policy, sub("devices/d1/config/+/limits/#"))), config);
  assert.equal(allowedBy(evaluate(policy, sub("devices/d1/config/alarms"))), config);
  assert.equal(allowedBy(evaluate(policy, sub("devices/d1/config"))), config, "config/# also matches config");
  assert.equal(allowedBy(evaluate(policy, sub("devices/d1/firmware"))), "profile:subscribe:devices/{device}/firmware");
  assert.equal(allowedBy(evaluate(policy, sub("broadcast/+/notice"))), "profile:subscribe:broadcast/+/notice");
  assert.equal(allowedBy(evaluate(policy, sub("broadcast/north/notice"))), "profile:subscribe:broadcast/+/notice");
  assert.equal(allowedBy(evaluate(policy, sub("vigil/d1/cmd", 1))), "control-channel:subscribe:vigil/{device}/cmd");
  assert.equal(denied(evaluate(policy, sub("devices/d1/firmware/+"))), "wildcard_subscribe_not_allowed");
  assert.equal(denied(evaluate(policy, sub("broadcast/+/+"))), "wildcard_subscribe_not_allowed");
  assert.equal(denied(evaluate(policy, sub("devices/+/config/#"))), "cross_device_topic");
});

test("a profile without wildcard subscriptions: wildcards are refused, exact filters pass", async () => {
  const pump = (await loadDefaultProfiles()).get("infusion-pump")!;
  const p = compilePolicy(pump, d1, "standard");
  assert.equal(allowedBy(evaluate(p, sub("devices/d1/config", 1))), "profile:subscribe:devices/{device}/config");
  assert.equal(denied(evaluate(p, sub("devices/d1/config/#"))), "wildcard_subscribe_not_allowed");
  assert.equal(denied(evaluate(p, sub("devices/d1/+"))), "wildcard_subscribe_not_allowed");
});

test("pure and allocation-free: the same input returns the same frozen decision object", () => {
  for (const request of [
    pub("devices/d1/telemetry"),
    pub("devices/other/x"),
    pub("devices/d1/telemetry", { qos: 2 }),
    sub("devices/d1/config/+"),
  ]) {
    const first = evaluate(policy, request);
    assert.equal(evaluate(policy, request), first);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.rule));
  }
  assert.ok(Object.isFrozen(policy));
  assert.equal(evaluatePublish(policy, "devices/d1/telemetry", 0, false, 1), evaluate(policy, pub("devices/d1/telemetry")));
  assert.equal(evaluateSubscribe(policy, "vigil/d1/cmd", 0), evaluate(policy, sub("vigil/d1/cmd")));
});

test("a NaN payload size is refused, not allowed", () => {
  assert.equal(denied(evaluatePublish(policy, "devices/d1/telemetry", 0, false, Number.NaN)), "payload_too_large");
});
