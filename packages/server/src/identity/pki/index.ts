export * from "./secrets.js";
export * from "./api-tls.js";
