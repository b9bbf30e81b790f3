export { buildApi, type Api, type ApiDeps } from "./http-server.js";
export type { PlatformStatus } from "./routes/health.js";
