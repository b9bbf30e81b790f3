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
  // identity
  DEVICE_NOT_FOUND: { owner: "identity", meaning: "No device has this id." },
  DEVICE_EXISTS: { owner: "identity", meaning: "A device with this id is already registered." },
  DEVICE_ID_INVALID: { owner: "identity", meaning: "The device id has characters or a length Vigil does not accept." },
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
} as const satisfies Record<string, { owner: string; meaning: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(errorCatalogue, value);
}
