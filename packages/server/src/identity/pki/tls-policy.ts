/**
 * The TLS settings of every listener (HTTPS API with EST and OTA, MQTT gateway): TLS 1.2 or
 * 1.3 only, and in TLS 1.2 only forward-secret ECDHE key exchange with an AEAD cipher
 * (AES-GCM, ChaCha20-Poly1305) — no RC4, 3DES, CBC, NULL, EXPORT or anonymous suites
 * (RFC 9325 §4.2; the Mozilla "intermediate" profile). Checked from outside with
 * `openssl s_client` by test/reliability/tls-settings.test.ts.
 */
export const TLS_MIN_VERSION = "TLSv1.2" as const;

export const TLS_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");
