// The policy module's front door: device profiles, least-privilege policy compile and
// evaluation, and the token bucket the gateway keeps per device.
export {
  VERTICALS,
  MQTT_MAX_PAYLOAD_BYTES,
  profileSchema,
  checkProfile,
  templateProblems,
  type Vertical,
  type Qos,
  type Profile,
  type ProfileIssue,
  type ProfileCheck,
} from "./profile.js";
export {
  DEFAULT_PROFILES_DIR,
  DEFAULT_PROFILE_IDS,
  MAX_PROFILE_FILE_BYTES,
  parseProfile,
  loadProfileFile,
  loadProfileDirectory,
  loadDefaultProfiles,
  type ProfileFileIssue,
} from "./profile-loader.js";
export {
  DEFAULT_TOPIC_LIMITS,
  MQTT_MAX_TOPIC_BYTES,
  topicLimitsSchema,
  topicProblem,
  screenTopic,
  isCrossDevice,
  type TopicLimits,
  type TopicProblem,
  type TopicDenial,
} from "./topic.js";
export {
  TIERS,
  CONTROL_COMMAND_TEMPLATE,
  CONTROL_ACK_TEMPLATE,
  CONTROL_MAX_QOS,
  CONTROL_ACK_MAX_PAYLOAD_BYTES,
  compilePolicy,
  tierLimits,
  type Tier,
  type TierLimits,
  type CompiledPolicy,
  type CompileOptions,
} from "./compile-policy.js";
export {
  DENY_REASONS,
  type AllowRule,
  type GuardRule,
  type GuardRuleId,
  type PolicyRule,
  type DenyReason,
  type Decision,
  type AllowDecision,
  type DenyDecision,
} from "./decision.js";
export {
  evaluate,
  evaluatePublish,
  evaluateSubscribe,
  type PolicyRequest,
  type PublishRequest,
  type SubscribeRequest,
} from "./evaluate.js";
export { TokenBucket } from "./token-bucket.js";
