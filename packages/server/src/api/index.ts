export { buildApi, type Api, type ApiDeps } from "./http-server.js";
export type { PlatformStatus } from "./routes/health.js";
export { routeTable, readCookie, SESSION_COOKIE, CSRF_COOKIE, CSRF_HEADER, type RouteInfo } from "./rbac.js";
export type { KeyRotation } from "./routes/keys.js";
