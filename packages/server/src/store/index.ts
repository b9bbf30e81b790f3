export type { Store } from "./ports.js";
export { openSqliteStore } from "./sqlite/sqlite-store.js";
export { latestVersion as latestSchemaVersion } from "./sqlite/migrations.js";
