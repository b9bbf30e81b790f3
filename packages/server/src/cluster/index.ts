// The cluster module's front door: several Vigil nodes sharing MQTT routing and sessions
// (Redis), security decisions (Redis or NATS), device presence and periodic-job locks.
export { CLUSTER_DEFAULTS, clusterConfigSchema, defaultNodeId, type ClusterConfig } from "./cluster-config.js";
export {
  CAMPAIGN_ACTIONS,
  clusterMessageSchema,
  parseClusterMessage,
  type CampaignAction,
  type ClusterMessage,
  type DeviceDecisionMessage,
} from "./cluster-message.js";
export {
  ClusterBus,
  NatsChannel,
  RedisChannel,
  type ClusterBusStats,
  type ClusterChannel,
  type ClusterDecision,
} from "./cluster-bus.js";
export { ClusterEnforcement, type LocalSessions } from "./cluster-enforcement.js";
export { PresenceRegistry } from "./presence-registry.js";
export { RedisJobLock, localJobLock, type JobLock } from "./redis-job-lock.js";
export { brokerBackends, type BrokerBackends } from "./mqtt-backends.js";
export { RedisLeaderLease, type LeaderLease } from "./leader-lease.js";
export { ClusterNode, type CampaignActionMessage, type CampaignActions, type ClusterNodeDeps } from "./cluster-node.js";
