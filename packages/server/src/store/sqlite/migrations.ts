/**
 * Versioned, forward-only migrations. Each runs in its own transaction together with the
 * row that records it, so a crash leaves the database at the previous version, never
 * half-way. Never edit a migration that has shipped: add a new one.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "operators-and-tokens",
    sql: `
      CREATE TABLE operators (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        must_change_password INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        operator_id TEXT NOT NULL REFERENCES operators(id),
        secret_hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX api_tokens_operator ON api_tokens(operator_id);
    `,
  },
  {
    version: 2,
    name: "devices",
    sql: `
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        profile TEXT,
        state TEXT NOT NULL,
        firmware_version TEXT,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER
      ) STRICT;
      CREATE INDEX devices_state ON devices(state, id);
    `,
  },
  {
    version: 3,
    name: "audit-log",
    // Append-only by construction: the triggers refuse UPDATE and DELETE, so no code path
    // can rewrite history by accident. They do not stop someone with the file and sqlite3
    // (a trigger can be dropped): that is what the hash chain and the signed checkpoints
    // detect (`vigil audit verify`).
    sql: `
      CREATE TABLE audit_entries (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        outcome TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      ) STRICT;
      CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        at INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL
      ) STRICT;
      CREATE TABLE audit_keys (
        id TEXT PRIMARY KEY,
        algorithm TEXT NOT NULL,
        public_key TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_keys_no_update BEFORE UPDATE ON audit_keys
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_keys_no_delete BEFORE DELETE ON audit_keys
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
  {
    version: 4,
    name: "identity-and-enrollment",
    sql: `
      ALTER TABLE devices ADD COLUMN attestation_method TEXT;
      ALTER TABLE devices ADD COLUMN attestation_strength INTEGER;
      ALTER TABLE devices ADD COLUMN key_type TEXT;
      ALTER TABLE devices ADD COLUMN sbom_ref TEXT;
      ALTER TABLE devices ADD COLUMN expected_key_sha256 TEXT;
      ALTER TABLE devices ADD COLUMN manufacturer_id TEXT;
      ALTER TABLE devices ADD COLUMN enrolled_at INTEGER;
      ALTER TABLE devices ADD COLUMN factory_cert_sha256 TEXT;
      CREATE UNIQUE INDEX devices_factory_cert ON devices(factory_cert_sha256) WHERE factory_cert_sha256 IS NOT NULL;
      CREATE TABLE certificates (
        serial TEXT PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices(id),
        subject TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        key_sha256 TEXT NOT NULL,
        pem TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        revoked_at INTEGER,
        revocation_reason TEXT
      ) STRICT;
      CREATE INDEX certificates_device ON certificates(device_id, issued_at);
      CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;
      CREATE TABLE manufacturers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        ca_pem TEXT NOT NULL,
        ca_sha256 TEXT NOT NULL UNIQUE,
        serial_allowlist TEXT,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE TABLE enrollment_tokens (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        profile TEXT NOT NULL,
        device_id TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        used_by_device TEXT,
        created_by TEXT NOT NULL
      ) STRICT;
    `,
  },
];

export const latestVersion = migrations.reduce((max, m) => Math.max(max, m.version), 0);
