export * from "./catalogue.js";
export { DrillRegistry, type Drill, type DrillRepository } from "./drill-registry.js";
