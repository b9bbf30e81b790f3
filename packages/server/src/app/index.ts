export * from "./config.js";
export * from "./data-dir.js";
export * from "./platform.js";
export { VERSION } from "./version.js";
export { GatewayNode, joinCluster, type GatewayNodeOptions } from "./gateway-node.js";
