import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_TOPIC_LIMITS, isCrossDevice, screenTopic, topicProblem } from "./topic.js";

const limits = DEFAULT_TOPIC_LIMITS;

test("valid names and filters pass", () => {
  assert.equal(topicProblem("devices/d1/telemetry", limits, false), null);
  assert.equal(topicProblem("a/+/b/#", limits, true), null);
  assert.equal(topicProblem("+", limits, true), null);
  assert.equal(topicProblem("#", limits, true), null);
  assert.equal(topicProblem("a//b", limits, false), null, "empty levels are legal MQTT");
  assert.equal(topicProblem("capteurs/été/😀", limits, false), null, "non-ASCII UTF-8 and astral characters are legal");
});

test("empty, NUL, control characters and non-characters are topic_invalid", () => {
  assert.equal(topicProblem("", limits, false), "topic_invalid"); // [MQTT-4.7.3-1]
  assert.equal(topicProblem("devices/d1/\u0000", limits, false), "topic_invalid"); // [MQTT-4.7.3-2]
  assert.equal(topicProblem("devices/d1/\u0007bell", limits, false), "topic_invalid");
  assert.equal(topicProblem("devices/d1/\u007f", limits, false), "topic_invalid");
  assert.equal(topicProblem("devices/d1/\u0085", limits, false), "topic_invalid");
  assert.equal(topicProblem("devices/d1/\uffff", limits, false), "topic_invalid");
  assert.equal(topicProblem("devices/d1/\ufdd0", limits, false), "topic_invalid");
  assert.equal(topicProblem("devices/d1/\u{1fffe}", limits, false), "topic_invalid");
});

test("lone surrogates and U+FFFD are topic_invalid_utf8", () => {
  assert.equal(topicProblem("devices/d1/\uD800", limits, false), "topic_invalid_utf8");
  assert.equal(topicProblem("devices/d1/\uD800x", limits, false), "topic_invalid_utf8");
  assert.equal(topicProblem("devices/d1/\uDC00", limits, false), "topic_invalid_utf8");
  assert.equal(topicProblem("devices/d1/\uFFFD", limits, false), "topic_invalid_utf8");
});

test("wildcard placement in filters [MQTT-4.7.1-2] [MQTT-4.7.1-3]; ordinary characters in names", () => {
  for (const bad of ["a/b+", "a/+b", "a+/b", "a/#/b", "a/b#", "#/a", "a/##"]) {
    assert.equal(topicProblem(bad, limits, true), "topic_invalid", bad);
  }
  assert.equal(topicProblem("a/b+", limits, false), null, "names are screened for wildcards by the caller");
});

test("length is counted in UTF-8 bytes and the limit is inclusive", () => {
  assert.equal(topicProblem("x".repeat(256), limits, false), null);
  assert.equal(topicProblem("x".repeat(257), limits, false), "topic_too_long");
  assert.equal(topicProblem("é".repeat(128), limits, false), null, "128 x 2 bytes = 256");
  assert.equal(topicProblem("é".repeat(129), limits, false), "topic_too_long", "129 characters but 258 bytes");
  assert.equal(topicProblem("😀".repeat(65), limits, false), "topic_too_long", "4 bytes each");
  assert.equal(topicProblem("x".repeat(300), { maxTopicBytes: 65_535, maxTopicLevels: 8 }, false), null, "configurable");
});

test("depth: at most maxTopicLevels levels", () => {
  assert.equal(topicProblem("1/2/3/4/5/6/7/8", limits, false), null);
  assert.equal(topicProblem("1/2/3/4/5/6/7/8/9", limits, false), "topic_too_deep");
  assert.equal(topicProblem("////////", limits, false), "topic_too_deep", "nine empty levels");
  assert.equal(topicProblem("1/2/3", { maxTopicBytes: 256, maxTopicLevels: 2 }, false), "topic_too_deep");
});

test("isCrossDevice: the second level of devices/ and vigil/ must be exactly the device id", () => {
  assert.equal(isCrossDevice("devices/d1/telemetry", "d1"), false);
  assert.equal(isCrossDevice("devices/d1", "d1"), false);
  assert.equal(isCrossDevice("vigil/d1/cmd", "d1"), false);
  assert.equal(isCrossDevice("devices/d10/telemetry", "d1"), true, "a longer id with the same prefix");
  assert.equal(isCrossDevice("devices/d/telemetry", "d1"), true, "a shorter id");
  assert.equal(isCrossDevice("devices/other/telemetry", "d1"), true);
  assert.equal(isCrossDevice("vigil/other/cmd", "d1"), true);
  assert.equal(isCrossDevice("devices/+/telemetry", "d1"), true);
  assert.equal(isCrossDevice("devices/#", "d1"), true);
  assert.equal(isCrossDevice("devices//x", "d1"), true, "an empty device level");
  assert.equal(isCrossDevice("devices", "d1"), false, "not in the namespace");
  assert.equal(isCrossDevice("fleet/other/x", "d1"), false);
});

test("screenTopic: syntax, then $, then other devices, then wildcard publish", () => {
  assert.equal(screenTopic("$SYS/broker/load", "d1", limits, "publish"), "sys_topic");
  assert.equal(screenTopic("$SYS/#", "d1", limits, "subscribe"), "sys_topic");
  assert.equal(screenTopic("devices/+/telemetry", "d1", limits, "publish"), "cross_device_topic");
  assert.equal(screenTopic("devices/d1/+", "d1", limits, "publish"), "wildcard_publish");
  assert.equal(screenTopic("devices/d1/+", "d1", limits, "subscribe"), null);
  assert.equal(screenTopic("devices/other/\u0000", "d1", limits, "publish"), "topic_invalid");
});
