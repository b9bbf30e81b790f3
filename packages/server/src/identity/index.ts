export * from "./ports.js";
export * from "./pki/index.js";
export * from "./device-registry.js";
export * from "./identity-service.js";
