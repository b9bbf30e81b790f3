import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isVigilError, parseDeviceId, type DeviceId } from "../core/index.js";
import { compilePolicy } from "./compile-policy.js";
import { evaluatePublish } from "./evaluate.js";
import {
  DEFAULT_PROFILE_IDS,
  loadDefaultProfiles,
  loadProfileDirectory,
  loadProfileFile,
  MAX_PROFILE_FILE_BYTES,
  parseProfile,
} from "./profile-loader.js";

const dir = mkdtempSync(join(tmpdir(), "vigil-profiles-"));
const camA = parseDeviceId("cam-a") as DeviceId;

const good = `id: door-lock
description: A door lock.
vertical: generic
safetyCritical: false
publish:
  - devices/{device}/telemetry
subscribe: []
maxMessagesPerSecond: 1
burst: 5
maxPayloadBytes: 256
maxQos: 1
retainAllowed: false
sensitivePayload: false
`;

test("the shipped profiles: exactly the seven ids, each loads frozen", async () => {
  const profiles = await loadDefaultProfiles();
  assert.deepEqual([...profiles.keys()].sort(), [...DEFAULT_PROFILE_IDS].sort());
  for (const profile of profiles.values()) {
    assert.ok(Object.isFrozen(profile) && Object.isFrozen(profile.publish), profile.id);
    assert.ok(profile.publish.includes("devices/{device}/telemetry"), `${profile.id} publishes its telemetry`);
  }
});

test("every shipped profile lets its device publish telemetry and denies another device's", async () => {
  for (const profile of (await loadDefaultProfiles()).values()) {
    for (const tier of ["restricted", "standard", "trusted"] as const) {
      const policy = compilePolicy(profile, camA, tier);
      const own = evaluatePublish(policy, "devices/cam-a/telemetry", 0, false, 64);
      assert.equal(own.effect, "allow", `${profile.id} (${tier})`);
      const other = evaluatePublish(policy, "devices/cam-b/telemetry", 0, false, 64);
      assert.equal(other.effect === "deny" && other.reason, "cross_device_topic", `${profile.id} (${tier})`);
    }
    const quarantined = evaluatePublish(compilePolicy(profile, camA, "quarantine"), "devices/cam-a/telemetry", 0, false, 64);
    assert.equal(quarantined.effect === "deny" && quarantined.reason, "topic_not_allowed", `${profile.id} (quarantine)`);
  }
});

test("the shipped numbers keep their intent", async () => {
  const p = await loadDefaultProfiles();
  const get = (id: string) => p.get(id)!;
  assert.ok(get("infusion-pump").safetyCritical && get("infusion-pump").sensitivePayload);
  assert.ok(get("patient-monitor").safetyCritical && get("patient-monitor").sensitivePayload);
  assert.ok(get("plc").safetyCritical);
  assert.equal(get("plc").subscribe.length, 0, "no writes into a PLC over MQTT");
  const largest = [...p.values()].reduce((a, b) => (a.maxPayloadBytes >= b.maxPayloadBytes ? a : b));
  assert.equal(largest.id, "ip-camera", "a camera sends the biggest payloads (snapshots)");
  assert.ok(get("smart-meter").maxMessagesPerSecond * 60 <= 10, "a smart meter sends a few messages a minute");
  assert.ok(get("vehicle-telematics").sensitivePayload, "location is personal data");
  for (const profile of p.values()) {
    assert.ok(!profile.retainAllowed || profile.id === "environmental-sensor", `${profile.id} retains only where it helps`);
    assert.equal(profile.subscribeWildcards, profile.id === "vehicle-telematics", `${profile.id} wildcards`);
  }
});

test("a bad profile file: one error listing every problem with file and path", async () => {
  const bad = join(dir, "bad");
  mkdirSync(bad);
  writeFileSync(join(bad, "good.yaml"), good);
  writeFileSync(
    join(bad, "pump.yaml"),
    [
      "id: pump",
      "description: A pump.",
      "vertical: healthcare",
      "safetyCritical: yes-please", // wrong type
      "publish:",
      "  - devices/{device}/telemetry",
      "  - devices/{device}/#", // wildcard in a publish template
      "subscribe: []",
      "maxMessagesPerSecond: 2",
      "burst: 10",
      "maxPayloadBytes: 4096",
      "maxQos: 1",
      "retainAllowed: false",
      "colour: blue", // unknown key
      // sensitivePayload: missing
      "",
    ].join("\n"),
  );
  const error = await loadProfileDirectory(bad).then(
    () => assert.fail("a bad profile directory loaded"),
    (e: unknown) => e,
  );
  assert.ok(isVigilError(error, "POLICY_PROFILE_INVALID"));
  const problems = error.details?.problems as string[];
  const file = join(bad, "pump.yaml");
  assert.deepEqual(problems, [
    `${file}:4 safetyCritical: Invalid input: expected boolean, received string`,
    `${file}:7 publish.1: wildcards (+, #) are never allowed in publish templates [MQTT-3.3.2-2]`,
    `${file}:14 colour: unknown key`,
    `${file} sensitivePayload: required field is missing`,
  ]);
  assert.match(error.message, /a device profile has 4 problem\(s\)/);
  for (const problem of problems) assert.ok(error.message.includes(problem), "the message lists every problem");
});

test("problems of several files come together, and nothing loads (no half-loaded set)", async () => {
  const two = join(dir, "two");
  mkdirSync(two);
  writeFileSync(join(two, "a.yaml"), good.replace("burst: 5", "burst: many"));
  writeFileSync(join(two, "b.json"), JSON.stringify({ id: "b" }));
  writeFileSync(join(two, "c.yaml"), good.replace("door-lock", "other-lock"));
  writeFileSync(join(two, "notes.txt"), "not a profile");
  const error = await loadProfileDirectory(two).catch((e: unknown) => e);
  assert.ok(isVigilError(error, "POLICY_PROFILE_INVALID"));
  const problems = error.details?.problems as string[];
  assert.ok(problems.some((p) => p.startsWith(join(two, "a.yaml")) && p.includes("burst")));
  assert.equal(problems.filter((p) => p.startsWith(join(two, "b.json"))).length, 11, "b.json misses eleven fields");
  assert.match(error.message, /2 device profiles have 12 problem\(s\)/);
});

test("two files with the same id are an error", async () => {
  const dup = join(dir, "dup");
  mkdirSync(dup);
  writeFileSync(join(dup, "one.yaml"), good);
  writeFileSync(join(dup, "two.yml"), good);
  const error = await loadProfileDirectory(dup).catch((e: unknown) => e);
  assert.ok(isVigilError(error, "POLICY_PROFILE_INVALID"));
  assert.deepEqual(error.details?.problems, [`${join(dup, "two.yml")} id: profile id "door-lock" is also defined in one.yaml`]);
});

test("JSON profiles load; duplicate keys and syntax errors are reported with their line", async () => {
  const json = join(dir, "lock.json");
  writeFileSync(json, JSON.stringify(parseProfile(good), null, 2));
  assert.equal((await loadProfileFile(json)).id, "door-lock");
  assert.throws(
    () => parseProfile(`${good}burst: 6\n`, "twice.yaml"),
    (e: unknown) =>
      isVigilError(e, "POLICY_PROFILE_INVALID") &&
      /twice\.yaml:14 \(root\): not valid YAML\/JSON: Map keys must be unique/.test(e.message),
  );
  assert.throws(
    () => parseProfile("publish: [devices/{device}/telemetry]\n", "flow.yaml"),
    (e: unknown) => isVigilError(e, "POLICY_PROFILE_INVALID") && /flow\.yaml:1 \(root\): not valid YAML/.test(e.message),
    "'{' opens a mapping inside a flow sequence: quote such templates",
  );
  assert.throws(
    () => parseProfile("", "empty.yaml"),
    (e: unknown) => isVigilError(e, "POLICY_PROFILE_INVALID") && /empty\.yaml \(root\): the file is empty/.test(e.message),
  );
});

test("an oversized file is refused unread; a missing directory or file is POLICY_PROFILE_UNREADABLE", async () => {
  const big = join(dir, "big.yaml");
  writeFileSync(big, `${good}# ${"x".repeat(MAX_PROFILE_FILE_BYTES)}\n`);
  await assert.rejects(
    loadProfileFile(big),
    (e: unknown) => isVigilError(e, "POLICY_PROFILE_INVALID") && /larger than/.test(e.message),
  );
  await assert.rejects(loadProfileDirectory(join(dir, "absent")), (e: unknown) => isVigilError(e, "POLICY_PROFILE_UNREADABLE"));
  await assert.rejects(loadProfileFile(join(dir, "absent.yaml")), (e: unknown) => isVigilError(e, "POLICY_PROFILE_UNREADABLE"));
});
