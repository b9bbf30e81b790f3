import { z } from "zod";

/**
 * MQTT topic names and filters, checked per MQTT 3.1.1 §4.7 and §1.5.3 plus Vigil's own
 * limits. The checks scan the string once with `charCodeAt`: no split, no allocation, so that
 * they can sit on the gateway's per-message path.
 */

/** Vigil's own topic limits, tighter than MQTT's 65,535 bytes ([MQTT-4.7.3-3]). */
export interface TopicLimits {
  /** Largest topic name or filter, in UTF-8 bytes. */
  readonly maxTopicBytes: number;
  /** Most levels (`a/b/c` has 3). */
  readonly maxTopicLevels: number;
}

export const MQTT_MAX_TOPIC_BYTES = 65_535;

export const DEFAULT_TOPIC_LIMITS: TopicLimits = Object.freeze({ maxTopicBytes: 256, maxTopicLevels: 8 });

/** The policy module's slice of the configuration (STYLE habit 4), for the app's schema. */
export const topicLimitsSchema = z
  .object({
    maxTopicBytes: z
      .number()
      .int()
      .min(1)
      .max(MQTT_MAX_TOPIC_BYTES)
      .default(DEFAULT_TOPIC_LIMITS.maxTopicBytes)
      .describe("Longest MQTT topic a device may use, in UTF-8 bytes (MQTT's own ceiling is 65535)."),
    maxTopicLevels: z
      .number()
      .int()
      .min(1)
      .max(128)
      .default(DEFAULT_TOPIC_LIMITS.maxTopicLevels)
      .describe("Most levels ('/'-separated parts) in an MQTT topic a device may use."),
  })
  .strict();

/** Why a topic or filter is unusable before any rule is consulted. */
export type TopicProblem = "topic_invalid" | "topic_invalid_utf8" | "topic_too_long" | "topic_too_deep";

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;

/**
 * The first problem found scanning left to right, or `null` when the string is usable.
 * `filter` = a SUBSCRIBE topic filter, where `+` and `#` are wildcards with placement rules;
 * otherwise a PUBLISH topic name, where they are ordinary characters here (the caller denies
 * them as `wildcard_publish`, [MQTT-3.3.2-2], after the namespace checks).
 *
 * - empty: [MQTT-4.7.3-1] -> `topic_invalid`
 * - U+0000: [MQTT-4.7.3-2], [MQTT-1.5.3-2] -> `topic_invalid`
 * - C0/C1 controls and Unicode non-characters: §1.5.3 "SHOULD NOT" -> `topic_invalid`
 * - a lone surrogate (cannot be encoded as UTF-8, [MQTT-1.5.3-1]) or U+FFFD (what a decoder
 *   leaves where the bytes were not UTF-8) -> `topic_invalid_utf8`
 * - `+` not alone in its level, `#` not alone in the last level: [MQTT-4.7.1-2], [MQTT-4.7.1-3]
 *   -> `topic_invalid`
 * - longer than `limits.maxTopicBytes` UTF-8 bytes -> `topic_too_long` (the scan stops there)
 * - more than `limits.maxTopicLevels` levels -> `topic_too_deep`
 */
export function topicProblem(topic: string, limits: TopicLimits, filter: boolean): TopicProblem | null {
  const length = topic.length;
  if (length === 0) return "topic_invalid";
  const maxBytes = limits.maxTopicBytes;
  const maxLevels = limits.maxTopicLevels;
  let bytes = 0;
  let levels = 1;
  for (let i = 0; i < length; i++) {
    const c = topic.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      if (c === SLASH) {
        if (++levels > maxLevels) return "topic_too_deep";
      } else if (c < 0x20 || c === 0x7f) {
        return "topic_invalid";
      } else if (filter && c === PLUS) {
        if ((i > 0 && topic.charCodeAt(i - 1) !== SLASH) || (i + 1 < length && topic.charCodeAt(i + 1) !== SLASH)) {
          return "topic_invalid";
        }
      } else if (filter && c === HASH) {
        if ((i > 0 && topic.charCodeAt(i - 1) !== SLASH) || i + 1 !== length) return "topic_invalid";
      }
    } else if (c < 0x800) {
      if (c <= 0x9f) return "topic_invalid";
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < length ? topic.charCodeAt(i + 1) : 0;
      if (next < 0xdc00 || next > 0xdfff) return "topic_invalid_utf8";
      // Supplementary-plane non-characters end in FFFE/FFFF: low surrogate DFFE/DFFF.
      if ((c & 0x3f) === 0x3f && next >= 0xdffe) return "topic_invalid";
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return "topic_invalid_utf8";
    } else {
      if (c === 0xfffd) return "topic_invalid_utf8";
      if (c >= 0xfffe || (c >= 0xfdd0 && c <= 0xfdef)) return "topic_invalid";
      bytes += 3;
    }
    if (bytes > maxBytes) return "topic_too_long";
  }
  return null;
}

/** True when the string holds an MQTT wildcard character (`+` or `#`). */
export function hasWildcard(topic: string): boolean {
  return topic.includes("+") || topic.includes("#");
}

/**
 * The namespaces whose second level is a device id: `devices/<id>/...` (device data) and
 * `vigil/<id>/...` (the platform's control channel).
 */
export const DEVICE_NAMESPACES = ["devices", "vigil"] as const;

/**
 * True when the topic (or filter) lies in a device namespace and its second level is not
 * exactly `deviceId`: another device's id, an empty level, `+` or `#` all count, since each
 * reaches past the device's own subtree. Allocation-free.
 */
export function isCrossDevice(topic: string, deviceId: string): boolean {
  let start: number;
  if (topic.startsWith("devices/")) start = 8;
  else if (topic.startsWith("vigil/")) start = 6;
  else return false;
  const slash = topic.indexOf("/", start);
  const end = slash === -1 ? topic.length : slash;
  return !(end - start === deviceId.length && topic.startsWith(deviceId, start));
}

/** Why a topic is refused before the device's own rules are consulted. */
export type TopicDenial = TopicProblem | "sys_topic" | "cross_device_topic" | "wildcard_publish";

/**
 * The checks every topic passes whatever the profile, in this order: syntax and limits
 * (`topicProblem`), then `$`-topics (`$SYS/...` and every other `$` topic, MQTT 3.1.1
 * §4.7.2: reserved for the broker), then another device's namespace, then — for PUBLISH —
 * wildcards [MQTT-3.3.2-2]. `null` when none applies.
 */
export function screenTopic(
  topic: string,
  deviceId: string,
  limits: TopicLimits,
  kind: "publish" | "subscribe",
): TopicDenial | null {
  const problem = topicProblem(topic, limits, kind === "subscribe");
  if (problem !== null) return problem;
  if (topic.charCodeAt(0) === 0x24 /* $ */) return "sys_topic";
  if (isCrossDevice(topic, deviceId)) return "cross_device_topic";
  if (kind === "publish" && hasWildcard(topic)) return "wildcard_publish";
  return null;
}
