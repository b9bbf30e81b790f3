/**
 * The catalogue of stable error codes that cross a wire (HTTP body, CLI exit message, MQTT
 * reason). Each code has an owner (the module that throws it) and a one-line meaning.
 * `docs/errors.md` is generated from this table and a test keeps the two in sync.
 */
export const errorCatalogue = {
  // core / app
  CONFIG_INVALID: { owner: "app", meaning: "The configuration has one or more invalid or unknown values." },
  CONFIG_FILE_UNREADABLE: { owner: "app", meaning: "The configuration file could not be read or parsed." },
  DATA_DIR_UNUSABLE: {
    owner: "app",
    meaning: "The data directory cannot be created, is not writable or is owned by another user.",
  },
  DATA_DIR_LOCKED: { owner: "app", meaning: "Another Vigil process is already running on this data directory." },
  PORT_IN_USE: { owner: "app", meaning: "A port Vigil must listen on is already taken by another process." },
  MQTT_PLAIN_NOT_LOOPBACK: {
    owner: "gateway",
    meaning: "Plain (unencrypted) MQTT was requested on an address that is not loopback.",
  },
  PLAIN_HTTP_NOT_LOOPBACK: { owner: "app", meaning: "Plain HTTP was requested on an address that is not loopback." },
  TLS_MATERIAL_INVALID: { owner: "identity", meaning: "A TLS certificate or key file is missing, unreadable or does not match." },
  // store
  STORE_CORRUPT: { owner: "store", meaning: "The database file is not a valid SQLite database or failed its integrity check." },
  STORE_MIGRATION_FAILED: {
    owner: "store",
    meaning: "A schema migration failed; the database was left at its previous version.",
  },
  STORE_TOO_NEW: { owner: "store", meaning: "The database was written by a newer Vigil than this one." },
  STORE_CONFLICT: { owner: "store", meaning: "The record already exists." },
  STORE_UNREACHABLE: { owner: "store", meaning: "The PostgreSQL server could not be reached." },
  STORE_AUTH_FAILED: { owner: "store", meaning: "The PostgreSQL server refused the user or password." },
  STORE_DATABASE_MISSING: { owner: "store", meaning: "The PostgreSQL database named in store.url does not exist." },
  // operators / auth
  AUTH_REQUIRED: { owner: "operators", meaning: "The request has no API token." },
  AUTH_TOKEN_INVALID: { owner: "operators", meaning: "The API token is malformed, unknown or has been tampered with." },
  AUTH_TOKEN_EXPIRED: { owner: "operators", meaning: "The API token has expired." },
  AUTH_TOKEN_REVOKED: { owner: "operators", meaning: "The API token has been revoked." },
  AUTH_SCOPE_MISSING: { owner: "operators", meaning: "The API token does not carry the scope this route needs." },
  AUTH_PASSWORD_CHANGE_REQUIRED: {
    owner: "operators",
    meaning: "The operator must change the one-time password before doing anything else.",
  },
  AUTH_BAD_CREDENTIALS: { owner: "operators", meaning: "The operator name or password is wrong." },
  OPERATOR_PASSWORD_WEAK: { owner: "operators", meaning: "The new password does not meet the password policy." },
  AUTH_MFA_REQUIRED: {
    owner: "operators",
    meaning:
      "The password was right but a second factor is needed: answer the challenge (TOTP code, recovery code or WebAuthn) to get a token or session.",
  },
  AUTH_MFA_ENROLLMENT_REQUIRED: {
    owner: "operators",
    meaning: "The operator's role needs a second factor and none is enrolled yet: enrol TOTP or WebAuthn before anything else.",
  },
  AUTH_MFA_INVALID: {
    owner: "operators",
    meaning: "The TOTP code, recovery code or WebAuthn assertion is wrong, used or stale.",
  },
  AUTH_MFA_CHALLENGE_INVALID: {
    owner: "operators",
    meaning: "The login challenge is unknown, expired, used up or for another step.",
  },
  AUTH_LOCKED: {
    owner: "operators",
    meaning: "Too many failed logins for this operator or from this address: locked for a while (the delay doubles each time).",
  },
  AUTH_PERMISSION_DENIED: { owner: "operators", meaning: "The operator's role does not grant the permission this route needs." },
  AUTH_CSRF_FAILED: {
    owner: "api",
    meaning:
      "A state-changing request authenticated by the console cookie lacks a matching CSRF token or comes from another origin.",
  },
  OPERATOR_NOT_FOUND: { owner: "operators", meaning: "No operator has this name." },
  OPERATOR_EXISTS: { owner: "operators", meaning: "An operator with this name already exists." },
  OPERATOR_INVALID: { owner: "operators", meaning: "The operator name, role or sites are not valid." },
  OPERATOR_MFA_NOT_PENDING: { owner: "operators", meaning: "There is no TOTP or WebAuthn enrolment in progress to confirm." },
  KEY_ROTATION_FAILED: {
    owner: "identity",
    meaning:
      "Re-wrapping the data keys under a new master key failed; the items keep working under either key and a retry resumes.",
  },
  // identity
  DEVICE_NOT_FOUND: { owner: "identity", meaning: "No device has this id." },
  DEVICE_EXISTS: { owner: "identity", meaning: "A device with this id is already registered." },
  DEVICE_ID_INVALID: { owner: "identity", meaning: "The device id has characters or a length Vigil does not accept." },
  DEVICE_PASSWORD_WEAK: { owner: "gateway", meaning: "A legacy device's MQTT password is too short or too long." },
  TRUST_NOT_SCORED: { owner: "trust", meaning: "The device has no trust score yet: it has not enrolled." },
  // response
  PLAYBOOK_INVALID: { owner: "response", meaning: "A playbook is not valid; the message lists every problem." },
  INCIDENT_NOT_FOUND: { owner: "response", meaning: "No incident has this id." },
  DRILL_NOT_FOUND: { owner: "response", meaning: "No drill has this id (the store keeps the last 200 drills)." },
  INCIDENT_TRANSITION_INVALID: { owner: "response", meaning: "The incident's state does not allow this change." },
  INCIDENT_NO_PENDING_APPROVAL: { owner: "response", meaning: "The incident has no action waiting for approval." },
  // audit
  AUDIT_CHAIN_BROKEN: {
    owner: "audit",
    meaning: "The audit log's hash chain is broken: an entry was edited, deleted or reordered, or entries were cut off.",
  },
  AUDIT_SIGNATURE_INVALID: {
    owner: "audit",
    meaning: "An audit checkpoint's signature does not verify, or it was signed by a key that is not trusted.",
  },
  AUDIT_LOG_UNREADABLE: {
    owner: "audit",
    meaning: "The audit log cannot be read: no database at that path, or one without an audit log.",
  },
  AUDIT_KEY_INVALID: {
    owner: "audit",
    meaning: "An audit key file (the signing key, or a public key given to verify) is unreadable or not an Ed25519 key.",
  },
  // policy
  POLICY_PROFILE_INVALID: {
    owner: "policy",
    meaning: "A device profile failed validation; every problem is listed with its file and path.",
  },
  POLICY_PROFILE_UNREADABLE: { owner: "policy", meaning: "A device profile file or directory could not be read." },
  // identity, enrollment
  PKI_STATE_INVALID: {
    owner: "identity",
    meaning: "The CA files in the data directory are inconsistent (a certificate without its key, or the reverse).",
  },
  PKI_CA_IMPORT_INVALID: {
    owner: "identity",
    meaning: "The CA certificate or key given to `vigil ca import` is not usable as an issuing CA.",
  },
  PKI_ROOT_KEY_ABSENT: {
    owner: "identity",
    meaning: "The root CA key is not in this data directory (exported for offline keeping, or never here).",
  },
  KEY_VAULT_UNAVAILABLE: {
    owner: "identity",
    meaning: "A sealed key cannot be opened: the master key is missing or does not match, or the file was altered.",
  },
  IDENTITY_CERT_UNKNOWN: {
    owner: "identity",
    meaning: "The client certificate was not issued by Vigil's issuing CA or is not in the store.",
  },
  IDENTITY_CERT_REVOKED: { owner: "identity", meaning: "The client certificate has been revoked." },
  IDENTITY_CERT_EXPIRED: { owner: "identity", meaning: "The client certificate has expired or is not yet valid." },
  DEVICE_REVOKED: { owner: "identity", meaning: "The device has been revoked; it must be re-provisioned." },
  ENROLLMENT_CSR_ENCODING: {
    owner: "enrollment",
    meaning: "The EST body is not base64 of one DER PKCS#10 request, or is empty or too large.",
  },
  ENROLLMENT_CSR_INVALID: { owner: "enrollment", meaning: "The body decodes but is not a PKCS#10 certification request." },
  ENROLLMENT_CSR_SIGNATURE: { owner: "enrollment", meaning: "The certification request's self-signature does not verify." },
  ENROLLMENT_KEY_WEAK: { owner: "enrollment", meaning: "The requested key is not EC P-256/P-384 or RSA >= 2048 bits." },
  ENROLLMENT_SUBJECT_INVALID: {
    owner: "enrollment",
    meaning: "The request's subject does not hold exactly one CN that is a valid device id.",
  },
  ENROLLMENT_SUBJECT_MISMATCH: {
    owner: "enrollment",
    meaning: "The request's device id differs from the one the token or current certificate is bound to.",
  },
  ENROLLMENT_AUTH_REQUIRED: {
    owner: "enrollment",
    meaning: "No attestation was presented: no manufacturer certificate, no claim token, no pre-registered key.",
  },
  ENROLLMENT_TOKEN_INVALID: { owner: "enrollment", meaning: "The claim token is malformed or unknown." },
  ENROLLMENT_TOKEN_EXPIRED: { owner: "enrollment", meaning: "The claim token has expired." },
  ENROLLMENT_TOKEN_REPLAYED: {
    owner: "enrollment",
    meaning: "The claim token was already used; a second use is refused and raised as a security signal.",
  },
  ENROLLMENT_MANUFACTURER_UNKNOWN: {
    owner: "enrollment",
    meaning: "The factory certificate does not chain to a registered manufacturer CA, or is not valid now.",
  },
  ENROLLMENT_MANUFACTURER_REVOKED: {
    owner: "enrollment",
    meaning: "The factory certificate chains to a manufacturer CA that has been revoked.",
  },
  ENROLLMENT_SERIAL_NOT_ALLOWED: {
    owner: "enrollment",
    meaning: "The factory certificate's serial number is not on the manufacturer's allowlist.",
  },
  ENROLLMENT_KEY_NOT_REGISTERED: { owner: "enrollment", meaning: "The device was pre-registered with another public key." },
  ENROLLMENT_KEY_REUSED: {
    owner: "enrollment",
    meaning: "A revoked device asked to be re-admitted with a key it used before; it must generate a new one.",
  },
  ENROLLMENT_FACTORY_CERT_REUSED: {
    owner: "enrollment",
    meaning: "The factory certificate already enrolled another device: one factory identity, one device.",
  },
  ENROLLMENT_ALREADY_ENROLLED: {
    owner: "enrollment",
    meaning: "A device with this id is already enrolled; renew with simplereenroll instead.",
  },
  ENROLLMENT_POSTURE_INVALID: {
    owner: "enrollment",
    meaning: "The posture declared with the enrollment (Vigil-Posture header) is malformed.",
  },
  ENROLLMENT_PREREGISTRATION_INVALID: {
    owner: "enrollment",
    meaning: "A pre-registration CSV row is malformed; nothing from the file was imported.",
  },
  MANUFACTURER_INVALID: { owner: "enrollment", meaning: "The manufacturer CA certificate given is not a usable CA certificate." },
  MANUFACTURER_NOT_FOUND: { owner: "enrollment", meaning: "No manufacturer has this id." },
  PROFILE_UNKNOWN: { owner: "policy", meaning: "No device profile has this id." },
  // api edge
  REQUEST_INVALID: { owner: "api", meaning: "The request body, query or parameters failed validation." },
  REQUEST_MALFORMED_JSON: { owner: "api", meaning: "The request body is not valid JSON." },
  REQUEST_TOO_LARGE: { owner: "api", meaning: "The request body exceeds the size limit." },
  REQUEST_UNSUPPORTED_MEDIA_TYPE: { owner: "api", meaning: "The request body has a content type this route does not accept." },
  NOT_FOUND: { owner: "api", meaning: "No such route or resource." },
  RATE_LIMITED: { owner: "api", meaning: "Too many requests; retry later." },
  INTERNAL: { owner: "api", meaning: "An unexpected error; it was logged with a request id, and no detail is echoed." },
  SERVICE_UNAVAILABLE: { owner: "app", meaning: "Vigil is starting or stopping and cannot serve the request yet." },
  // cli
  CLI_DAEMON_NOT_FOUND: {
    owner: "cli",
    meaning: "No running Vigil daemon was found for the data directory, and no --server was given.",
  },
  CLI_NOT_LOGGED_IN: { owner: "cli", meaning: "The CLI has no API token; run `vigil login` first." },
  CLI_SERVER_UNREACHABLE: { owner: "cli", meaning: "The Vigil server could not be reached or its certificate did not verify." },
  // network (packet captures)
  CAPTURE_BAD_MAGIC: { owner: "network", meaning: "The input is not a pcap or pcapng capture (unknown magic number)." },
  CAPTURE_TRUNCATED: { owner: "network", meaning: "The capture ends in the middle of a header, block or packet." },
  CAPTURE_LINK_TYPE_UNSUPPORTED: { owner: "network", meaning: "The capture uses a link-layer type Vigil cannot decode." },
  CAPTURE_RECORD_INVALID: {
    owner: "network",
    meaning: "A packet record or block header is inconsistent (lengths that lie, zero-length packet, unknown interface).",
  },
  CAPTURE_PACKET_TOO_LARGE: {
    owner: "network",
    meaning: "A packet record is larger than the reader's limit (256 KiB by default).",
  },
  NET_MODEL_INVALID: {
    owner: "network",
    meaning: "A device-fingerprint model file is unreadable or not in the expected format.",
  },
  // assessment
  SBOM_INVALID: {
    owner: "assessment",
    meaning:
      "The SBOM is not a CycloneDX 1.5/1.6 JSON document, is too large, or names no firmware version; nothing was imported.",
  },
  VEX_INVALID: {
    owner: "assessment",
    meaning: "The VEX document is not a CycloneDX 1.5/1.6 JSON document with vulnerabilities.",
  },
  ADVISORY_SOURCE_UNREADABLE: {
    owner: "assessment",
    meaning:
      "The advisory directory or ZIP cannot be read at all (not a ZIP, too large, too many entries); per-record problems are reported, not thrown.",
  },
  AUDIT_CHECK_UNKNOWN: { owner: "assessment", meaning: "No audit check has this id." },
  // ota
  OTA_KEYS_ABSENT: {
    owner: "ota",
    meaning: "The OTA signing keys (root and targets) have not been created: run `vigil ota keys init`.",
  },
  OTA_KEYS_EXIST: { owner: "ota", meaning: "The OTA signing keys already exist; rotate them with `vigil ota keys rotate`." },
  OTA_METADATA_INVALID: {
    owner: "ota",
    meaning: "Stored OTA metadata does not verify against its own root (altered on disk, or a key is missing).",
  },
  OTA_ARTIFACT_INVALID: {
    owner: "ota",
    meaning:
      "The firmware image or its manifest is invalid (empty or too large, bad version, unknown profile, counter below the last).",
  },
  OTA_ARTIFACT_EXISTS: { owner: "ota", meaning: "An artifact with this name already exists; artifacts are immutable." },
  OTA_ARTIFACT_NOT_FOUND: { owner: "ota", meaning: "No firmware artifact has this name." },
  OTA_CAMPAIGN_NOT_FOUND: { owner: "ota", meaning: "No update campaign has this id." },
  OTA_CAMPAIGN_INVALID: {
    owner: "ota",
    meaning: "The campaign cannot be created: no device matches its target, or a targeted device cannot take the artifact.",
  },
  OTA_CAMPAIGN_STATE: {
    owner: "ota",
    meaning: "The campaign is not in a state that allows this action (e.g. resume a completed campaign).",
  },
  OTA_DEVICE_AUTH_REQUIRED: {
    owner: "ota",
    meaning: "Firmware and OTA metadata are served only to a device presenting a valid Vigil device certificate over mutual TLS.",
  },
  OTA_DEVICE_NOT_ELIGIBLE: {
    owner: "ota",
    meaning: "The device's profile does not match the artifact's: it may not download it.",
  },
  OTA_RANGE_NOT_SATISFIABLE: { owner: "ota", meaning: "The requested byte range lies outside the firmware image." },
} as const satisfies Record<string, { owner: string; meaning: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(errorCatalogue, value);
}
