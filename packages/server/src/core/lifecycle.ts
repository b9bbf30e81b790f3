import type { Logger } from "pino";

export type ServiceState = "created" | "starting" | "started" | "stopping" | "stopped" | "failed";

/** STYLE habit 5: constructors only assign; `start` and `stop` do the I/O. */
export interface Service {
  readonly name: string;
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/** Starts services in the order given and stops the started ones in reverse. */
export class Lifecycle {
  readonly #services: Service[] = [];
  readonly #states = new Map<string, ServiceState>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  add(service: Service): void {
    this.#services.push(service);
    this.#states.set(service.name, "created");
  }

  states(): { name: string; state: ServiceState }[] {
    return this.#services.map((s) => ({ name: s.name, state: this.#states.get(s.name) ?? "created" }));
  }

  ready(): boolean {
    return this.#services.length > 0 && this.#services.every((s) => this.#states.get(s.name) === "started");
  }

  /** On failure, stops what had started (in reverse) and rethrows the original error. */
  async startAll(signal: AbortSignal): Promise<void> {
    for (const service of this.#services) {
      signal.throwIfAborted();
      this.#states.set(service.name, "starting");
      try {
        await service.start(signal);
      } catch (error) {
        this.#states.set(service.name, "failed");
        await this.stopAll();
        throw error;
      }
      this.#states.set(service.name, "started");
      this.#log.debug({ service: service.name }, "service started");
    }
  }

  async stopAll(): Promise<void> {
    for (const service of [...this.#services].reverse()) {
      const state = this.#states.get(service.name);
      if (state !== "started" && state !== "starting" && state !== "failed") continue;
      this.#states.set(service.name, "stopping");
      try {
        await service.stop();
        this.#states.set(service.name, "stopped");
      } catch (error) {
        this.#states.set(service.name, "failed");
        this.#log.error({ err: error, service: service.name }, "service failed to stop cleanly");
      }
    }
  }
}
