export * from "./secrets.js";
export * from "./api-tls.js";
export * from "./audit-signing.js";
export * from "./key-vault.js";
export * from "./csr.js";
export * from "./certificate-authority.js";
export * from "./client-chain.js";
export { sha256Hex, toPem } from "./x509-util.js";
