import type { JobLock, JobRun } from "./ports.js";

/** The single-process JobLock (SQLite: one node owns the data directory). */
export class InProcessJobLock implements JobLock {
  readonly #running = new Set<string>();

  run<T>(name: string, fn: () => Promise<T>): Promise<JobRun<T>> {
    return this.tryRun(name, fn);
  }

  async tryRun<T>(name: string, fn: () => Promise<T>): Promise<JobRun<T>> {
    if (this.#running.has(name)) return { ran: false };
    this.#running.add(name);
    try {
      return { ran: true, value: await fn() };
    } finally {
      this.#running.delete(name);
    }
  }
}
