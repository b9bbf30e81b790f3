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
];

export const latestVersion = migrations.reduce((max, m) => Math.max(max, m.version), 0);
