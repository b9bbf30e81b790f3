import type { Pool } from "pg";
import type { JobLock, JobRun } from "../ports.js";

/**
 * JobLock across every node sharing one PostgreSQL database: a session advisory lock keyed by
 * `hashtext('vigil.job:' || name)`, taken with `pg_try_advisory_lock` (never waits) on a
 * connection dedicated to the run, and released after it. Should the node die, PostgreSQL
 * drops the lock with the session, so a crashed holder never blocks the job for good.
 */
export class PostgresJobLock implements JobLock {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  run<T>(name: string, fn: () => Promise<T>): Promise<JobRun<T>> {
    return this.tryRun(name, fn);
  }

  async tryRun<T>(name: string, fn: () => Promise<T>): Promise<JobRun<T>> {
    const client = await this.#pool.connect();
    let locked = false;
    try {
      const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS locked", [
        `vigil.job:${name}`,
      ]);
      locked = rows[0]?.locked === true;
      if (!locked) return { ran: false };
      return { ran: true, value: await fn() };
    } finally {
      if (locked) {
        const unlocked = await client
          .query("SELECT pg_advisory_unlock(hashtext($1))", [`vigil.job:${name}`])
          .then(() => true)
          .catch(() => false);
        // A connection that could not unlock is closed: its lock goes with the session.
        client.release(!unlocked);
      } else {
        client.release();
      }
    }
  }
}
