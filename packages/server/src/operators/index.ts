export * from "./ports.js";
export * from "./operator-service.js";
