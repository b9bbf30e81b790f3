export type { Store } from "./ports.js";
export { openSqliteStore } from "./sqlite/sqlite-store.js";
export { openSqliteAuditSnapshot, type AuditSnapshot } from "./sqlite/sqlite-audit.js";
export { latestVersion as latestSchemaVersion } from "./sqlite/migrations.js";
