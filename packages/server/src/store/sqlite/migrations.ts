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
  {
    version: 6,
    name: "trust-scores",
    sql: `
      CREATE TABLE trust_scores (
        device_id TEXT PRIMARY KEY,
        score REAL NOT NULL,
        tier TEXT NOT NULL,
        vertical TEXT NOT NULL,
        state TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE trust_history (
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        score REAL NOT NULL,
        tier TEXT NOT NULL,
        from_tier TEXT,
        reasons TEXT NOT NULL,
        PRIMARY KEY (device_id, seq)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 7,
    name: "operator-security",
    // MFA, console sessions, sites and sealed data keys (issue 12). The TOTP secret is sealed
    // (AES-256-GCM under the operator_mfa data key); tokens, sessions and recovery codes are
    // stored as SHA-256 digests only.
    sql: `
      ALTER TABLE operators ADD COLUMN sites TEXT NOT NULL DEFAULT '["*"]';
      ALTER TABLE operators ADD COLUMN disabled_at INTEGER;
      ALTER TABLE api_tokens ADD COLUMN mfa INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE operator_mfa (
        operator_id TEXT PRIMARY KEY REFERENCES operators(id),
        totp_secret TEXT,
        totp_pending TEXT,
        totp_confirmed_at INTEGER,
        totp_last_step INTEGER,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE operator_recovery_codes (
        operator_id TEXT NOT NULL REFERENCES operators(id),
        code_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        used_at INTEGER,
        PRIMARY KEY (operator_id, code_hash)
      ) STRICT;
      CREATE TABLE webauthn_credentials (
        id TEXT PRIMARY KEY,
        operator_id TEXT NOT NULL REFERENCES operators(id),
        name TEXT NOT NULL,
        public_key TEXT NOT NULL,
        counter INTEGER NOT NULL,
        transports TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      ) STRICT;
      CREATE INDEX webauthn_credentials_operator ON webauthn_credentials(operator_id);
      CREATE TABLE console_sessions (
        id TEXT PRIMARY KEY,
        operator_id TEXT NOT NULL REFERENCES operators(id),
        secret_hash TEXT NOT NULL,
        csrf_hash TEXT NOT NULL,
        mfa INTEGER NOT NULL,
        remote TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX console_sessions_operator ON console_sessions(operator_id);
      CREATE TABLE sealed_data_keys (
        name TEXT PRIMARY KEY,
        master_key_id TEXT NOT NULL,
        wrapped TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        rewrapped_at INTEGER
      ) STRICT;
      ALTER TABLE devices ADD COLUMN site TEXT NOT NULL DEFAULT 'default';
      CREATE INDEX devices_site ON devices(site, id);
    `,
  },
  {
    version: 8,
    name: "assessment",
    // SBOMs per firmware (components as JSON: read whole, never queried by column), OSV
    // advisories with a package-key index for matching, VEX statements, findings per device
    // and the audit-check runs (the last 100 kept).
    sql: `
      CREATE TABLE sboms (
        id TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        firmware_version TEXT NOT NULL,
        spec_version TEXT NOT NULL,
        serial_number TEXT,
        bom_version INTEGER NOT NULL,
        subject_name TEXT,
        sha256 TEXT NOT NULL,
        components TEXT NOT NULL,
        component_count INTEGER NOT NULL,
        imported_at INTEGER NOT NULL,
        imported_by TEXT NOT NULL,
        UNIQUE (profile, firmware_version)
      ) STRICT;
      CREATE INDEX sboms_serial ON sboms(serial_number) WHERE serial_number IS NOT NULL;
      CREATE TABLE advisories (
        id TEXT PRIMARY KEY,
        modified INTEGER NOT NULL,
        record TEXT NOT NULL,
        imported_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE advisory_packages (
        package_key TEXT NOT NULL,
        advisory_id TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
        PRIMARY KEY (package_key, advisory_id)
      ) STRICT;
      CREATE INDEX advisory_packages_advisory ON advisory_packages(advisory_id);
      CREATE TABLE vex_statements (
        vulnerability TEXT NOT NULL,
        package_key TEXT NOT NULL,
        version TEXT NOT NULL,
        sbom_serial TEXT NOT NULL,
        state TEXT NOT NULL,
        justification TEXT,
        detail TEXT,
        source TEXT NOT NULL,
        imported_at INTEGER NOT NULL,
        PRIMARY KEY (vulnerability, package_key, version, sbom_serial)
      ) STRICT;
      CREATE TABLE vulnerability_findings (
        device_id TEXT NOT NULL,
        advisory_id TEXT NOT NULL,
        component TEXT NOT NULL,
        component_version TEXT NOT NULL,
        sbom_id TEXT NOT NULL,
        severity TEXT NOT NULL,
        cvss REAL,
        fixed_version TEXT,
        status TEXT NOT NULL,
        resolution TEXT,
        first_seen_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        resolved_at INTEGER,
        PRIMARY KEY (device_id, advisory_id, component)
      ) STRICT;
      CREATE INDEX vulnerability_findings_status ON vulnerability_findings(status, device_id);
      CREATE TABLE audit_check_runs (
        id TEXT PRIMARY KEY,
        at INTEGER NOT NULL,
        trigger TEXT NOT NULL,
        results TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_check_runs_at ON audit_check_runs(at);
    `,
  },
  {
    version: 9,
    name: "ota",
    // Firmware artifacts, the signed OTA metadata history (every root version is kept: devices
    // walk the chain), update campaigns and each targeted device's progress.
    sql: `
      CREATE TABLE ota_artifacts (
        name TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        profile TEXT NOT NULL,
        hardware TEXT NOT NULL,
        min_version TEXT,
        counter INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        length INTEGER NOT NULL,
        sbom_ref TEXT,
        file TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL
      ) STRICT;
      CREATE TABLE ota_metadata (
        role TEXT NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (role, version)
      ) STRICT;
      CREATE TABLE ota_campaigns (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        artifact TEXT NOT NULL REFERENCES ota_artifacts(name),
        version TEXT NOT NULL,
        state TEXT NOT NULL,
        wave INTEGER NOT NULL,
        waves INTEGER NOT NULL,
        selector TEXT NOT NULL,
        options TEXT NOT NULL,
        halt_reason TEXT,
        baseline TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        created_by TEXT NOT NULL
      ) STRICT;
      CREATE TABLE ota_campaign_targets (
        campaign_id TEXT NOT NULL REFERENCES ota_campaigns(id),
        device_id TEXT NOT NULL,
        wave INTEGER NOT NULL,
        state TEXT NOT NULL,
        from_version TEXT,
        reason TEXT,
        trust_dropped INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (campaign_id, device_id)
      ) STRICT;
      CREATE INDEX ota_campaign_targets_device ON ota_campaign_targets(device_id);
    `,
  },
  {
    version: 10,
    name: "incidents",
    // Incidents (the timeline, mitigation and pending approval as JSON in \`body\`) and the
    // dead letters of outgoing events that could not be delivered.
    sql: `
      CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        state TEXT NOT NULL,
        severity TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        body TEXT NOT NULL
      ) STRICT;
      CREATE INDEX incidents_device ON incidents(device_id, opened_at);
      CREATE INDEX incidents_state ON incidents(state, opened_at);
      CREATE TABLE response_dead_letters (
        id TEXT PRIMARY KEY,
        at INTEGER NOT NULL,
        sink TEXT NOT NULL,
        url TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        error TEXT NOT NULL,
        event TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 11,
    name: "legacy-device-passwords",
    // MQTT username/password of legacy devices that cannot hold a certificate: argon2id only.
    sql: `
      CREATE TABLE device_legacy_passwords (
        device_id TEXT PRIMARY KEY REFERENCES devices(id),
        password_hash TEXT NOT NULL,
        set_at INTEGER NOT NULL,
        set_by TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 12,
    name: "device-readmissions",
    // A revoked device that may enroll again by passing the checks at the door (re-attestation,
    // re-provisioning with a fresh key); one row per device, the newest request wins.
    sql: `
      CREATE TABLE device_readmissions (
        device_id TEXT PRIMARY KEY REFERENCES devices(id),
        reason TEXT NOT NULL,
        incident TEXT NOT NULL,
        since INTEGER NOT NULL,
        token_id TEXT,
        readmitted_at INTEGER,
        serial TEXT
      ) STRICT;
    `,
  },
  {
    version: 13,
    name: "drills",
    // Drills (\`vigil drill\`, POST /api/v1/drills): which devices an exercise acts on and until
    // when, so that tagging survives a restart and every node of a cluster tags alike.
    sql: `
      CREATE TABLE drills (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        devices TEXT NOT NULL,
        prefixes TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        started_by TEXT NOT NULL
      ) STRICT;
      CREATE INDEX drills_started ON drills(started_at);
    `,
  },
];

export const latestVersion = migrations.reduce((max, m) => Math.max(max, m.version), 0);
