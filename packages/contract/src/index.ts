export * from "./errors.js";
export * from "./http.js";
export * from "./operators.js";
export * from "./ota.js";
export * from "./incidents.js";
export * from "./drills.js";
export * from "./assessment.js";
