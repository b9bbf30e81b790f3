import { matcherOf, type CompiledPolicy, type RuleEntry } from "./compile-policy.js";
import { GUARD_DENIALS, type Decision } from "./decision.js";
import type { Qos } from "./profile.js";
import { hasWildcard, screenTopic } from "./topic.js";

export interface PublishRequest {
  readonly kind: "publish";
  readonly topic: string;
  readonly qos: Qos;
  readonly retain: boolean;
  readonly payloadBytes: number;
}

export interface SubscribeRequest {
  readonly kind: "subscribe";
  readonly topicFilter: string;
  readonly qos: Qos;
}

export type PolicyRequest = PublishRequest | SubscribeRequest;

/**
 * Decides one request against one device's compiled policy. Pure: same inputs, same
 * decision; no I/O, no clock, no mutation. Deny by default. Rate limits are not here (they
 * have state): the gateway keeps a `TokenBucket` per device sized from `policy.rate`.
 */
export function evaluate(policy: CompiledPolicy, request: PolicyRequest): Decision {
  return request.kind === "publish"
    ? evaluatePublish(policy, request.topic, request.qos, request.retain, request.payloadBytes)
    : evaluateSubscribe(policy, request.topicFilter, request.qos);
}

/**
 * PUBLISH, without a request object, for the gateway's per-message path. An allowed topic
 * costs one Map lookup (hashing the topic once) and three comparisons, and allocates
 * nothing: every topic in the map passed the topic checks at compile time. Only a topic
 * that is not in the map is scanned, once, to name the reason it is denied.
 */
export function evaluatePublish(
  policy: CompiledPolicy,
  topic: string,
  qos: Qos,
  retain: boolean,
  payloadBytes: number,
): Decision {
  const entry = policy[matcherOf].publish.get(topic);
  if (entry !== undefined) return limitsDecision(entry, qos, retain, payloadBytes);
  return GUARD_DENIALS[screenTopic(topic, policy.deviceId, policy.limits, "publish") ?? "topic_not_allowed"];
}

/**
 * SUBSCRIBE: the filter is allowed only if it is a subset of one allowed filter — every
 * topic it could match is matched by that filter (`devices/d1/config/+` within
 * `devices/d1/config/#`; never `devices/+/config/#`). A filter the profile lists as written
 * is a Map hit; otherwise it is checked, then split once and walked through the trie.
 * The QoS check is a denial, not a downgrade; the gateway may instead grant
 * `decision.rule.maxQos` in its SUBACK (MQTT 3.1.1 §3.9.3 lets the server grant less).
 */
export function evaluateSubscribe(policy: CompiledPolicy, topicFilter: string, qos: Qos): Decision {
  const matcher = policy[matcherOf];
  let entry = matcher.subscribe.get(topicFilter);
  if (entry === undefined) {
    const denial = screenTopic(topicFilter, policy.deviceId, policy.limits, "subscribe");
    if (denial !== null) return GUARD_DENIALS[denial];
    const wildcard = hasWildcard(topicFilter);
    entry = matcher.wildcards?.covering(topicFilter.split("/"));
    if (entry === undefined) return GUARD_DENIALS[wildcard ? "wildcard_subscribe_not_allowed" : "topic_not_allowed"];
  }
  return qos > entry.rule.maxQos ? entry.denyQos : entry.allow;
}

function limitsDecision(entry: RuleEntry, qos: Qos, retain: boolean, payloadBytes: number): Decision {
  const rule = entry.rule;
  if (qos > rule.maxQos) return entry.denyQos;
  if (retain && !rule.retainAllowed) return entry.denyRetain;
  // `!(<=)` so that NaN is refused too.
  if (!(payloadBytes <= rule.maxPayloadBytes)) return entry.denyPayload;
  return entry.allow;
}
