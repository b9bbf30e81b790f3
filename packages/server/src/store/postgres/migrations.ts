/**
 * The PostgreSQL schema, as its own forward-only series of versions (independent of the
 * SQLite numbers). Each migration runs in one transaction together with the row recording
 * it, under a session advisory lock, so several nodes starting at once migrate exactly once
 * and a failure leaves the previous version. Never edit a shipped migration: add one.
 *
 * Mirrors the SQLite schema (store/sqlite/migrations.ts) column for column: millis are
 * `bigint`, JSON is kept as the exact text SQLite stores, booleans are `boolean`. `ctext`
 * below stands for `text COLLATE "C"`: keys compare bytewise as in SQLite, whatever the
 * database's default collation, so ordering and keyset pagination are the same on both.
 */
export interface PostgresMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const ctext = (sql: string): string => sql.replace(/\bctext\b/g, 'text COLLATE "C"');

/** The function behind the append-only triggers of the audit tables. */
const appendOnly = `
  CREATE FUNCTION vigil_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
  END $$;
`;

export const postgresMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: "initial-schema",
    // Equivalent of SQLite migrations 1-11.
    sql: ctext(`
      CREATE TABLE operators (
        id ctext PRIMARY KEY,
        username ctext NOT NULL UNIQUE,
        password_hash ctext NOT NULL,
        role ctext NOT NULL,
        must_change_password boolean NOT NULL,
        sites ctext NOT NULL DEFAULT '["*"]',
        disabled_at bigint,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
      );
      CREATE TABLE api_tokens (
        id ctext PRIMARY KEY,
        operator_id ctext NOT NULL REFERENCES operators(id),
        secret_hash ctext NOT NULL,
        scopes ctext NOT NULL,
        label ctext NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        revoked_at bigint,
        mfa boolean NOT NULL DEFAULT false
      );
      CREATE INDEX api_tokens_operator ON api_tokens(operator_id);
      CREATE TABLE devices (
        id ctext PRIMARY KEY,
        profile ctext,
        state ctext NOT NULL,
        firmware_version ctext,
        created_at bigint NOT NULL,
        last_seen_at bigint,
        attestation_method ctext,
        attestation_strength integer,
        key_type ctext,
        sbom_ref ctext,
        expected_key_sha256 ctext,
        manufacturer_id ctext,
        enrolled_at bigint,
        factory_cert_sha256 ctext,
        site ctext NOT NULL DEFAULT 'default'
      );
      CREATE INDEX devices_state ON devices(state, id);
      CREATE INDEX devices_site ON devices(site, id);
      CREATE UNIQUE INDEX devices_factory_cert ON devices(factory_cert_sha256) WHERE factory_cert_sha256 IS NOT NULL;

      CREATE TABLE audit_entries (
        seq bigint PRIMARY KEY,
        at bigint NOT NULL,
        actor ctext NOT NULL,
        action ctext NOT NULL,
        target ctext,
        outcome ctext NOT NULL,
        details ctext NOT NULL,
        prev_hash ctext NOT NULL,
        hash ctext NOT NULL
      );
      CREATE TABLE audit_checkpoints (
        seq bigint PRIMARY KEY,
        hash ctext NOT NULL,
        at bigint NOT NULL,
        key_id ctext NOT NULL,
        signature ctext NOT NULL
      );
      CREATE TABLE audit_keys (
        id ctext PRIMARY KEY,
        algorithm ctext NOT NULL,
        public_key ctext NOT NULL,
        created_at bigint NOT NULL
      );
      ${appendOnly}
      CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
        FOR EACH ROW EXECUTE FUNCTION vigil_append_only();
      CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
        FOR EACH ROW EXECUTE FUNCTION vigil_append_only();
      CREATE TRIGGER audit_keys_append_only BEFORE UPDATE OR DELETE ON audit_keys
        FOR EACH ROW EXECUTE FUNCTION vigil_append_only();
      CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
        FOR EACH STATEMENT EXECUTE FUNCTION vigil_append_only();

      CREATE TABLE certificates (
        serial ctext PRIMARY KEY,
        device_id ctext NOT NULL REFERENCES devices(id),
        subject ctext NOT NULL,
        not_before bigint NOT NULL,
        not_after bigint NOT NULL,
        key_sha256 ctext NOT NULL,
        pem ctext NOT NULL,
        issued_at bigint NOT NULL,
        revoked_at bigint,
        revocation_reason ctext
      );
      CREATE INDEX certificates_device ON certificates(device_id, issued_at);
      CREATE INDEX certificates_revoked ON certificates(revoked_at) WHERE revoked_at IS NOT NULL;
      CREATE TABLE manufacturers (
        id ctext PRIMARY KEY,
        name ctext NOT NULL UNIQUE,
        ca_pem ctext NOT NULL,
        ca_sha256 ctext NOT NULL UNIQUE,
        serial_allowlist ctext,
        created_at bigint NOT NULL,
        revoked_at bigint
      );
      CREATE TABLE enrollment_tokens (
        id ctext PRIMARY KEY,
        secret_hash ctext NOT NULL,
        profile ctext NOT NULL,
        device_id ctext,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        used_at bigint,
        used_by_device ctext,
        created_by ctext NOT NULL
      );

      CREATE TABLE trust_scores (
        device_id ctext PRIMARY KEY,
        score double precision NOT NULL,
        tier ctext NOT NULL,
        vertical ctext NOT NULL,
        state ctext NOT NULL,
        updated_at bigint NOT NULL
      );
      CREATE TABLE trust_history (
        device_id ctext NOT NULL,
        seq bigint NOT NULL,
        at bigint NOT NULL,
        score double precision NOT NULL,
        tier ctext NOT NULL,
        from_tier ctext,
        reasons ctext NOT NULL,
        PRIMARY KEY (device_id, seq)
      );

      CREATE TABLE operator_mfa (
        operator_id ctext PRIMARY KEY REFERENCES operators(id),
        totp_secret ctext,
        totp_pending ctext,
        totp_confirmed_at bigint,
        totp_last_step bigint,
        updated_at bigint NOT NULL
      );
      CREATE TABLE operator_recovery_codes (
        operator_id ctext NOT NULL REFERENCES operators(id),
        code_hash ctext NOT NULL,
        created_at bigint NOT NULL,
        used_at bigint,
        PRIMARY KEY (operator_id, code_hash)
      );
      CREATE TABLE webauthn_credentials (
        id ctext PRIMARY KEY,
        operator_id ctext NOT NULL REFERENCES operators(id),
        name ctext NOT NULL,
        public_key ctext NOT NULL,
        counter bigint NOT NULL,
        transports ctext NOT NULL,
        created_at bigint NOT NULL,
        last_used_at bigint
      );
      CREATE INDEX webauthn_credentials_operator ON webauthn_credentials(operator_id);
      CREATE TABLE console_sessions (
        id ctext PRIMARY KEY,
        operator_id ctext NOT NULL REFERENCES operators(id),
        secret_hash ctext NOT NULL,
        csrf_hash ctext NOT NULL,
        mfa boolean NOT NULL,
        remote ctext NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        last_seen_at bigint NOT NULL,
        revoked_at bigint
      );
      CREATE INDEX console_sessions_operator ON console_sessions(operator_id);
      CREATE TABLE sealed_data_keys (
        name ctext PRIMARY KEY,
        master_key_id ctext NOT NULL,
        wrapped ctext NOT NULL,
        created_at bigint NOT NULL,
        rewrapped_at bigint
      );

      CREATE TABLE sboms (
        id ctext PRIMARY KEY,
        profile ctext NOT NULL,
        firmware_version ctext NOT NULL,
        spec_version ctext NOT NULL,
        serial_number ctext,
        bom_version integer NOT NULL,
        subject_name ctext,
        sha256 ctext NOT NULL,
        components ctext NOT NULL,
        component_count integer NOT NULL,
        imported_at bigint NOT NULL,
        imported_by ctext NOT NULL,
        UNIQUE (profile, firmware_version)
      );
      CREATE INDEX sboms_serial ON sboms(serial_number) WHERE serial_number IS NOT NULL;
      CREATE TABLE advisories (
        id ctext PRIMARY KEY,
        modified bigint NOT NULL,
        record ctext NOT NULL,
        imported_at bigint NOT NULL
      );
      CREATE TABLE advisory_packages (
        package_key ctext NOT NULL,
        advisory_id ctext NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
        PRIMARY KEY (package_key, advisory_id)
      );
      CREATE INDEX advisory_packages_advisory ON advisory_packages(advisory_id);
      CREATE TABLE vex_statements (
        vulnerability ctext NOT NULL,
        package_key ctext NOT NULL,
        version ctext NOT NULL,
        sbom_serial ctext NOT NULL,
        state ctext NOT NULL,
        justification ctext,
        detail ctext,
        source ctext NOT NULL,
        imported_at bigint NOT NULL,
        PRIMARY KEY (vulnerability, package_key, version, sbom_serial)
      );
      CREATE TABLE vulnerability_findings (
        device_id ctext NOT NULL,
        advisory_id ctext NOT NULL,
        component ctext NOT NULL,
        component_version ctext NOT NULL,
        sbom_id ctext NOT NULL,
        severity ctext NOT NULL,
        cvss double precision,
        fixed_version ctext,
        status ctext NOT NULL,
        resolution ctext,
        first_seen_at bigint NOT NULL,
        last_seen_at bigint NOT NULL,
        resolved_at bigint,
        PRIMARY KEY (device_id, advisory_id, component)
      );
      CREATE INDEX vulnerability_findings_status ON vulnerability_findings(status, device_id);
      CREATE TABLE audit_check_runs (
        ord bigserial UNIQUE,
        id ctext PRIMARY KEY,
        at bigint NOT NULL,
        trigger ctext NOT NULL,
        results ctext NOT NULL
      );
      CREATE INDEX audit_check_runs_at ON audit_check_runs(at);

      CREATE TABLE ota_artifacts (
        name ctext PRIMARY KEY,
        version ctext NOT NULL,
        profile ctext NOT NULL,
        hardware ctext NOT NULL,
        min_version ctext,
        counter bigint NOT NULL,
        sha256 ctext NOT NULL,
        length bigint NOT NULL,
        sbom_ref ctext,
        file ctext NOT NULL,
        created_at bigint NOT NULL,
        created_by ctext NOT NULL
      );
      CREATE TABLE ota_metadata (
        role ctext NOT NULL,
        version bigint NOT NULL,
        body ctext NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (role, version)
      );
      CREATE TABLE ota_campaigns (
        id ctext PRIMARY KEY,
        name ctext NOT NULL,
        artifact ctext NOT NULL REFERENCES ota_artifacts(name),
        version ctext NOT NULL,
        state ctext NOT NULL,
        wave integer NOT NULL,
        waves integer NOT NULL,
        selector ctext NOT NULL,
        options ctext NOT NULL,
        halt_reason ctext,
        baseline ctext NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        created_by ctext NOT NULL
      );
      CREATE TABLE ota_campaign_targets (
        campaign_id ctext NOT NULL REFERENCES ota_campaigns(id),
        device_id ctext NOT NULL,
        wave integer NOT NULL,
        state ctext NOT NULL,
        from_version ctext,
        reason ctext,
        trust_dropped boolean NOT NULL,
        updated_at bigint NOT NULL,
        PRIMARY KEY (campaign_id, device_id)
      );
      CREATE INDEX ota_campaign_targets_device ON ota_campaign_targets(device_id);

      CREATE TABLE incidents (
        id ctext PRIMARY KEY,
        device_id ctext NOT NULL,
        state ctext NOT NULL,
        severity ctext NOT NULL,
        opened_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        body ctext NOT NULL
      );
      CREATE INDEX incidents_device ON incidents(device_id, opened_at);
      CREATE INDEX incidents_state ON incidents(state, opened_at);
      CREATE TABLE response_dead_letters (
        id ctext PRIMARY KEY,
        at bigint NOT NULL,
        sink ctext NOT NULL,
        url ctext NOT NULL,
        attempts integer NOT NULL,
        error ctext NOT NULL,
        event ctext NOT NULL
      );

      CREATE TABLE device_legacy_passwords (
        device_id ctext PRIMARY KEY REFERENCES devices(id),
        password_hash ctext NOT NULL,
        set_at bigint NOT NULL,
        set_by ctext NOT NULL
      );
    `),
  },
  {
    version: 2,
    name: "device-readmissions",
    // SQLite migration 12: a revoked device that may enroll again by passing the checks at the
    // door; one row per device, the newest request wins.
    sql: ctext(`
      CREATE TABLE device_readmissions (
        device_id ctext PRIMARY KEY REFERENCES devices(id),
        reason ctext NOT NULL,
        incident ctext NOT NULL,
        since bigint NOT NULL,
        token_id ctext,
        readmitted_at bigint,
        serial ctext
      );
    `),
  },
  {
    version: 3,
    name: "drills",
    // SQLite migration 13: drills, so that tagging survives a restart and every node tags alike.
    sql: ctext(`
      CREATE TABLE drills (
        id ctext PRIMARY KEY,
        name ctext NOT NULL,
        devices ctext NOT NULL,
        prefixes ctext NOT NULL,
        started_at bigint NOT NULL,
        ends_at bigint NOT NULL,
        started_by ctext NOT NULL
      );
      CREATE INDEX drills_started ON drills(started_at);
    `),
  },
];

export const postgresLatestVersion = postgresMigrations.reduce((max, m) => Math.max(max, m.version), 0);
