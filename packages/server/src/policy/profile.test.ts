import assert from "node:assert/strict";
import { test } from "node:test";
import { checkProfile, templateProblems } from "./profile.js";

const valid = {
  id: "door-lock",
  description: "A door lock.",
  vertical: "generic",
  safetyCritical: false,
  publish: ["devices/{device}/telemetry"],
  subscribe: ["devices/{device}/config"],
  maxMessagesPerSecond: 1,
  burst: 5,
  maxPayloadBytes: 256,
  maxQos: 1,
  retainAllowed: false,
  sensitivePayload: false,
};

test("a valid profile is frozen, with subscribeWildcards defaulting to false", () => {
  const result = checkProfile(valid);
  assert.ok(result.ok);
  assert.equal(result.profile.subscribeWildcards, false);
  assert.ok(Object.isFrozen(result.profile) && Object.isFrozen(result.profile.publish));
});

test("publish templates: no wildcards, no $, no vigil/, devices/ must be followed by {device}", () => {
  assert.deepEqual(templateProblems("devices/{device}/telemetry", "publish"), []);
  assert.deepEqual(templateProblems("site/{profile}/{device}", "publish"), []);
  assert.match(templateProblems("devices/{device}/#", "publish").join(), /never allowed in publish templates/);
  assert.match(templateProblems("devices/{device}/+", "publish").join(), /never allowed in publish templates/);
  assert.match(templateProblems("$SYS/broker", "publish").join(), /\$SYS/);
  assert.match(templateProblems("vigil/{device}/ack", "publish").join(), /control channel/);
  assert.match(templateProblems("devices/other/telemetry", "publish").join(), /must name the device itself/);
  assert.match(templateProblems("devices/{profile}/telemetry", "publish").join(), /must name the device itself/);
  assert.match(templateProblems("a/{dev}", "publish").join(), /unknown placeholder/);
  assert.match(templateProblems("a/x{device}", "publish").join(), /unknown placeholder/);
  assert.match(templateProblems("a/{device}x", "publish").join(), /unknown placeholder/);
  assert.match(templateProblems("a//b", "publish").join(), /empty levels/);
  assert.match(templateProblems("/a", "publish").join(), /empty levels/);
  assert.match(templateProblems("a b", "publish").join(), /may only hold/);
});

test("subscribe templates: wildcards fill whole levels, never the first level or a device position", () => {
  assert.deepEqual(templateProblems("devices/{device}/config/#", "subscribe"), []);
  assert.deepEqual(templateProblems("broadcast/+/notice", "subscribe"), []);
  assert.match(templateProblems("#", "subscribe").join(), /first level/);
  assert.match(templateProblems("+/{device}", "subscribe").join(), /first level/);
  assert.match(templateProblems("devices/+/config", "subscribe").join(), /must name the device itself/);
  assert.match(templateProblems("a/#/b", "subscribe").join(), /last level/);
  assert.match(templateProblems("a/b+", "subscribe").join(), /whole level/);
});

test("wildcards in subscribe templates need subscribeWildcards: true", () => {
  const wild = { ...valid, subscribe: ["devices/{device}/config/#"] };
  const refused = checkProfile(wild);
  assert.ok(!refused.ok);
  assert.deepEqual(refused.issues, [
    { path: ["subscribe", 0], message: "wildcards in subscribe templates need `subscribeWildcards: true`" },
  ]);
  assert.ok(checkProfile({ ...wild, subscribeWildcards: true }).ok);
});

test("every problem at once, each with its path", () => {
  const result = checkProfile({
    ...valid,
    id: "Door Lock",
    burst: 0,
    maxQos: 3,
    maxMessagesPerSecond: -1,
    maxPayloadBytes: 300_000_000,
    publish: ["devices/{device}/x", "devices/{device}/x"],
    colour: "red",
    vertical: undefined,
  });
  assert.ok(!result.ok);
  const paths = result.issues.map((i) => i.path.join("."));
  for (const path of ["id", "burst", "maxQos", "maxMessagesPerSecond", "maxPayloadBytes", "publish.1", "colour", "vertical"]) {
    assert.ok(paths.includes(path), `${path} missing from ${paths.join(", ")}`);
  }
  assert.equal(result.issues.find((i) => i.path.join(".") === "colour")?.message, "unknown key");
  assert.match(result.issues.find((i) => i.path.join(".") === "publish.1")?.message ?? "", /duplicate/);
});
