export * from "./catalogue.js";
export { DrillRegistry, type Drill } from "./drill-registry.js";
