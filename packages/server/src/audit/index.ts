export * from "./ports.js";
export * from "./audit-log.js";
export * from "./verify.js";
export { auditDetails, describeSignal, MAX_DETAILS_BYTES, type AuditFacts } from "./describe.js";
