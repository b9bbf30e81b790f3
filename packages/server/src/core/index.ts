export * from "./errors.js";
export * from "./ids.js";
export * from "./clock.js";
export * from "./log.js";
export * from "./bus.js";
export * from "./lifecycle.js";
export * from "./metrics.js";
