// A fresh PostgreSQL database per test file (or test), on the server DEVELOPERS.md describes:
// 127.0.0.1:5432, trust auth, user postgres, an existing database `test` to connect through.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import pg, { type QueryResult } from "pg";

/** Where the admin connection goes; override with TEST_POSTGRES_URL (not VIGIL_*: the config would reject it). */
export const adminUrl = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let available: Promise<string | null> | undefined;

/** null when PostgreSQL answers, otherwise why not. Asked once per process. */
export function postgresProblem(): Promise<string | null> {
  available ??= (async () => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return null;
    } catch (error) {
      return `PostgreSQL is not reachable at ${adminUrl}: ${(error as Error).message}`;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return available;
}

/** Skips the test (or, in CI, fails it) when PostgreSQL is absent. */
export async function needPostgres(t: TestContext): Promise<boolean> {
  const problem = await postgresProblem();
  if (problem === null) return true;
  if (process.env.CI === "true") assert.fail(`CI must have PostgreSQL: ${problem}`);
  t.skip(problem);
  return false;
}

export interface FreshDatabase {
  /** postgres:// URL of an empty database of its own. */
  readonly url: string;
  readonly name: string;
  /** Drops it (terminating any connection left open). */
  drop(): Promise<void>;
}

/** `CREATE DATABASE vigil_test_<random>`; drop it after (e.g. `after(() => db.drop())`). */
export async function freshDatabase(prefix = "vigil_test"): Promise<FreshDatabase> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** One statement on the admin database. */
export async function admin(sql: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql, values);
  } finally {
    await client.end();
  }
}

/** One statement on the database at `url`. */
export async function execOn(url: string, sql: string, values: unknown[] = []): Promise<QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}
