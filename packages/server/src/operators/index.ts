export * from "./ports.js";
export * from "./operator-service.js";
export * from "./operator-admin.js";
export * from "./permissions.js";
export * from "./login-throttle.js";
export * from "./second-factors.js";
export type { PendingLogin } from "./login-challenges.js";
