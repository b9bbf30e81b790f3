import pg from "pg";
import type { Pool, PoolClient, QueryResult } from "pg";
import { VigilError } from "../../core/index.js";

/** SQLSTATE 23505 unique_violation (PostgreSQL manual, Appendix A). */
export function isUniqueViolation(error: unknown): boolean {
  return pgCode(error) === "23505";
}

export function pgCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}

export function constraintOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "constraint" in error ? String(error.constraint) : undefined;
}

export function conflict(what: string, cause: unknown): VigilError {
  return new VigilError("STORE_CONFLICT", `${what} already exists`, { cause });
}

/** int8 (OID 20) as a JS number: every bigint Vigil stores is a millis or a count below 2^53. */
const INT8_OID = 20;
export const vigilTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/** Milliseconds columns come back as numbers (see vigilTypes); nullable ones stay null. */
export type Row = Record<string, unknown>;

/**
 * The pool plus the two shapes of work the repositories need: one statement, or several in
 * one transaction on one connection (BEGIN ... COMMIT, ROLLBACK on any error).
 */
export class Db {
  readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  query<R = Row>(text: string, values: readonly unknown[] = []): Promise<QueryResult<R>> {
    return this.pool.query<R>(text, values);
  }

  async tx<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}

/** `$1, $2, ... $n` starting at `from`. */
export function placeholders(n: number, from = 1): string {
  return Array.from({ length: n }, (_, i) => `$${i + from}`).join(", ");
}
