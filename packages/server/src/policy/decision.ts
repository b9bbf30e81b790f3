import type { Qos } from "./profile.js";
import type { TopicDenial } from "./topic.js";

/**
 * Access decisions are values (STYLE habit 3): `evaluate()` returns one of these, never
 * throws for a denial. Every decision names the rule that made it, so that a denial can be
 * explained and audited, and its `reason` is a stable string for signals and detection.
 */

/** A rule that allows a topic (publish) or filter (subscribe) for one device. */
export interface AllowRule {
  /** Stable and readable: `profile:publish:devices/{device}/telemetry`, `control-channel:subscribe:vigil/{device}/cmd`. */
  readonly id: string;
  /** `control-channel`: the platform's own `vigil/{device}/cmd` and `vigil/{device}/ack`, granted to every device. */
  readonly source: "profile" | "control-channel";
  readonly action: "publish" | "subscribe";
  /** The template as written, with `{device}` / `{profile}`. */
  readonly template: string;
  /** The template expanded for this device: the exact topic, or the filter for subscribe. */
  readonly topic: string;
  readonly maxQos: Qos;
  /** Publish only: may the message be retained. */
  readonly retainAllowed: boolean;
  /** Publish only: largest payload. */
  readonly maxPayloadBytes: number;
}

export type GuardRuleId =
  | "builtin:topic-syntax"
  | "builtin:topic-limits"
  | "builtin:no-sys-topics"
  | "builtin:device-isolation"
  | "builtin:no-wildcard-publish"
  | "builtin:default-deny";

/** A rule every policy holds whatever the profile: the guards and the default deny. */
export interface GuardRule {
  readonly id: GuardRuleId;
  readonly source: "builtin";
}

export type PolicyRule = AllowRule | GuardRule;

export type DenyReason =
  | TopicDenial
  | "topic_not_allowed"
  | "wildcard_subscribe_not_allowed"
  | "qos_too_high"
  | "retain_not_allowed"
  | "payload_too_large";

export const DENY_REASONS: readonly DenyReason[] = [
  "topic_invalid",
  "topic_invalid_utf8",
  "topic_too_long",
  "topic_too_deep",
  "sys_topic",
  "cross_device_topic",
  "wildcard_publish",
  "topic_not_allowed",
  "wildcard_subscribe_not_allowed",
  "qos_too_high",
  "retain_not_allowed",
  "payload_too_large",
];

export interface AllowDecision {
  readonly effect: "allow";
  readonly rule: AllowRule;
}

export interface DenyDecision {
  readonly effect: "deny";
  readonly rule: PolicyRule;
  readonly reason: DenyReason;
}

export type Decision = AllowDecision | DenyDecision;

const GUARD_OF: Record<TopicDenial | "topic_not_allowed" | "wildcard_subscribe_not_allowed", GuardRuleId> = {
  topic_invalid: "builtin:topic-syntax",
  topic_invalid_utf8: "builtin:topic-syntax",
  topic_too_long: "builtin:topic-limits",
  topic_too_deep: "builtin:topic-limits",
  sys_topic: "builtin:no-sys-topics",
  cross_device_topic: "builtin:device-isolation",
  wildcard_publish: "builtin:no-wildcard-publish",
  topic_not_allowed: "builtin:default-deny",
  wildcard_subscribe_not_allowed: "builtin:default-deny",
};

/** The guard denials, made once: `evaluate()` hands these out and allocates nothing. */
export const GUARD_DENIALS = Object.freeze(
  Object.fromEntries(
    Object.entries(GUARD_OF).map(([reason, id]) => [
      reason,
      Object.freeze({ effect: "deny", rule: Object.freeze({ id, source: "builtin" }), reason }),
    ]),
  ),
) as Readonly<Record<keyof typeof GUARD_OF, DenyDecision>>;
