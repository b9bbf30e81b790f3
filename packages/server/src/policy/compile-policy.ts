import { parseDeviceId, VigilError, type DeviceId } from "../core/index.js";
import type { AllowDecision, AllowRule, DenyDecision } from "./decision.js";
import { FilterTrie } from "./filter-trie.js";
import type { Profile, Qos } from "./profile.js";
import { DEFAULT_TOPIC_LIMITS, MQTT_MAX_TOPIC_BYTES, screenTopic, type TopicDenial, type TopicLimits } from "./topic.js";

/**
 * Trust tiers narrow a profile, never widen it:
 *
 * | tier         | topics                                   | rate, burst, payload | retain  |
 * |--------------|------------------------------------------|----------------------|---------|
 * | `quarantine` | control channel only                     | halved               | never   |
 * | `restricted` | profile + control channel                | halved               | never   |
 * | `standard`   | profile + control channel                | as written           | profile |
 * | `trusted`    | profile + control channel                | as written           | profile |
 *
 * Halved: `maxMessagesPerSecond / 2` (fractions kept), `max(1, floor(burst / 2))`,
 * `max(1, floor(maxPayloadBytes / 2))`. QoS caps are not changed by the tier.
 *
 * `trusted` is deliberately the same as `standard`: the profile is what the device *needs*
 * (its MUD-style declaration); a good trust score is evidence the device is what it claims,
 * not a reason to let it reach further. Widening on trust would turn a score, which an
 * attacker on a well-behaved device inherits, into privilege. Trusted devices gain elsewhere
 * (e.g. longer certificate lifetimes), not here.
 */
export const TIERS = ["quarantine", "restricted", "standard", "trusted"] as const;
export type Tier = (typeof TIERS)[number];

/** The platform's control channel, granted to every device in every tier. */
export const CONTROL_COMMAND_TEMPLATE = "vigil/{device}/cmd";
export const CONTROL_ACK_TEMPLATE = "vigil/{device}/ack";
/**
 * QoS cap of the control channel, whatever the profile's `maxQos`: commands (quarantine,
 * re-attest, update) must arrive at least once, even on a device whose telemetry is QoS 0.
 */
export const CONTROL_MAX_QOS: Qos = 1;
/** Acks are small; the effective limit is the smaller of this and the tier's payload limit. */
export const CONTROL_ACK_MAX_PAYLOAD_BYTES = 4096;

/** The limits a tier leaves of a profile. */
export interface TierLimits {
  readonly maxMessagesPerSecond: number;
  readonly burst: number;
  readonly maxPayloadBytes: number;
  readonly maxQos: Qos;
  readonly retainAllowed: boolean;
}

export function tierLimits(profile: Profile, tier: Tier): TierLimits {
  if (tier === "standard" || tier === "trusted") {
    return {
      maxMessagesPerSecond: profile.maxMessagesPerSecond,
      burst: profile.burst,
      maxPayloadBytes: profile.maxPayloadBytes,
      maxQos: profile.maxQos,
      retainAllowed: profile.retainAllowed,
    };
  }
  return {
    maxMessagesPerSecond: profile.maxMessagesPerSecond / 2,
    burst: Math.max(1, Math.floor(profile.burst / 2)),
    maxPayloadBytes: Math.max(1, Math.floor(profile.maxPayloadBytes / 2)),
    maxQos: profile.maxQos,
    retainAllowed: false,
  };
}

/** A rule with the decisions it can produce, made once at compile time. */
export interface RuleEntry {
  readonly rule: AllowRule;
  readonly allow: AllowDecision;
  readonly denyQos: DenyDecision;
  readonly denyRetain: DenyDecision;
  readonly denyPayload: DenyDecision;
}

/** @internal The compiled matcher; only `evaluate` reads it. */
export const matcherOf: unique symbol = Symbol("vigil.policy.matcher");

export interface Matcher {
  /** Exact publish topics (publish templates never hold wildcards). */
  readonly publish: ReadonlyMap<string, RuleEntry>;
  /** Every allowed subscribe filter as written, for the exact-match fast path. */
  readonly subscribe: ReadonlyMap<string, RuleEntry>;
  /** Allowed subscribe filters with wildcards, for the subset check; absent when none. */
  readonly wildcards: FilterTrie<RuleEntry> | undefined;
}

/** One device's least-privilege policy: a profile expanded for its id and narrowed by its tier. */
export interface CompiledPolicy {
  readonly deviceId: DeviceId;
  readonly profileId: string;
  readonly tier: Tier;
  /** For the device's token bucket: refill per second and size. */
  readonly rate: { readonly perSecond: number; readonly burst: number };
  /** The largest payload any publish rule allows: the gateway may refuse bigger packets unread. */
  readonly maxPayloadBytes: number;
  readonly limits: TopicLimits;
  readonly safetyCritical: boolean;
  readonly sensitivePayload: boolean;
  /** Every rule in force, control channel first. */
  readonly rules: readonly AllowRule[];
  /** Rules whose expanded topic fails the topic checks (e.g. over `limits` with a long device id): never matched. */
  readonly unusable: readonly { readonly rule: AllowRule; readonly reason: TopicDenial }[];
  readonly [matcherOf]: Matcher;
}

export interface CompileOptions {
  readonly limits?: TopicLimits;
}

/**
 * Compiles `profile` for one device at one tier. Cheap (a few Map inserts per template), so
 * the gateway reruns it when a live session's tier changes. Throws `DEVICE_ID_INVALID` if
 * the id is not one (device ids land in topic levels, so this is re-checked here).
 */
export function compilePolicy(profile: Profile, deviceId: DeviceId, tier: Tier, options: CompileOptions = {}): CompiledPolicy {
  if (parseDeviceId(deviceId) === undefined) {
    throw new VigilError("DEVICE_ID_INVALID", `device id ${JSON.stringify(String(deviceId).slice(0, 140))} is not valid`, {
      hint: "Device ids are parsed once at the edge with parseDeviceId().",
    });
  }
  const limits = checkedLimits(options.limits ?? DEFAULT_TOPIC_LIMITS);
  const tiered = tierLimits(profile, tier);
  const expand = (template: string) => template.replaceAll("{device}", deviceId).replaceAll("{profile}", profile.id);

  const rules: AllowRule[] = [];
  const unusable: { rule: AllowRule; reason: TopicDenial }[] = [];
  const publish = new Map<string, RuleEntry>();
  const subscribe = new Map<string, RuleEntry>();
  let wildcards: FilterTrie<RuleEntry> | undefined;

  const add = (
    source: AllowRule["source"],
    action: AllowRule["action"],
    template: string,
    rule: Omit<AllowRule, "id" | "source" | "action" | "template" | "topic">,
  ) => {
    const topic = expand(template);
    const allowRule: AllowRule = Object.freeze({
      id: `${source}:${action}:${template}`,
      source,
      action,
      template,
      topic,
      ...rule,
    });
    const reason = screenTopic(topic, deviceId, limits, action);
    if (reason !== null) {
      unusable.push(Object.freeze({ rule: allowRule, reason }));
      return;
    }
    const target = action === "publish" ? publish : subscribe;
    if (target.has(topic)) return;
    rules.push(allowRule);
    const entry = entryOf(allowRule);
    target.set(topic, entry);
    if (action === "subscribe" && (topic.includes("+") || topic.includes("#"))) {
      wildcards ??= new FilterTrie<RuleEntry>();
      wildcards.insert(topic.split("/"), entry);
    }
  };

  add("control-channel", "subscribe", CONTROL_COMMAND_TEMPLATE, {
    maxQos: CONTROL_MAX_QOS,
    retainAllowed: false,
    maxPayloadBytes: CONTROL_ACK_MAX_PAYLOAD_BYTES,
  });
  add("control-channel", "publish", CONTROL_ACK_TEMPLATE, {
    maxQos: CONTROL_MAX_QOS,
    retainAllowed: false,
    maxPayloadBytes: Math.min(CONTROL_ACK_MAX_PAYLOAD_BYTES, tiered.maxPayloadBytes),
  });
  if (tier !== "quarantine") {
    const limitsOfRule = { maxQos: tiered.maxQos, retainAllowed: tiered.retainAllowed, maxPayloadBytes: tiered.maxPayloadBytes };
    for (const template of profile.publish) add("profile", "publish", template, limitsOfRule);
    for (const template of profile.subscribe) add("profile", "subscribe", template, limitsOfRule);
  }

  let maxPayloadBytes = 0;
  for (const rule of rules) if (rule.action === "publish") maxPayloadBytes = Math.max(maxPayloadBytes, rule.maxPayloadBytes);

  return Object.freeze({
    deviceId,
    profileId: profile.id,
    tier,
    rate: Object.freeze({ perSecond: tiered.maxMessagesPerSecond, burst: tiered.burst }),
    maxPayloadBytes,
    limits,
    safetyCritical: profile.safetyCritical,
    sensitivePayload: profile.sensitivePayload,
    rules: Object.freeze(rules),
    unusable: Object.freeze(unusable),
    [matcherOf]: Object.freeze({ publish, subscribe, wildcards }),
  });
}

function entryOf(rule: AllowRule): RuleEntry {
  const deny = (reason: "qos_too_high" | "retain_not_allowed" | "payload_too_large"): DenyDecision =>
    Object.freeze({ effect: "deny", rule, reason });
  return Object.freeze({
    rule,
    allow: Object.freeze({ effect: "allow", rule }),
    denyQos: deny("qos_too_high"),
    denyRetain: deny("retain_not_allowed"),
    denyPayload: deny("payload_too_large"),
  });
}

function checkedLimits(limits: TopicLimits): TopicLimits {
  const ok = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
  if (!ok(limits.maxTopicBytes, MQTT_MAX_TOPIC_BYTES) || !ok(limits.maxTopicLevels, 128)) {
    throw new VigilError(
      "CONFIG_INVALID",
      `policy topic limits are out of range: maxTopicBytes ${limits.maxTopicBytes}, maxTopicLevels ${limits.maxTopicLevels}`,
      { hint: `maxTopicBytes is an integer 1-${MQTT_MAX_TOPIC_BYTES}, maxTopicLevels 1-128 (see topicLimitsSchema).` },
    );
  }
  return Object.freeze({ maxTopicBytes: limits.maxTopicBytes, maxTopicLevels: limits.maxTopicLevels });
}
