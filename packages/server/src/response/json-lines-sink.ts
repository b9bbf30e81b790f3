import { appendFile } from "node:fs/promises";
import type { Logger } from "../core/index.js";
import type { EventSink, OutgoingEvent } from "./outgoing-event.js";

/** SIEM export: every event appended to a file as one JSON line (mode 0600), in order. */
export class JsonLinesSink implements EventSink {
  readonly name = "json-lines";
  readonly #file: string;
  readonly #log: Logger;
  #chain: Promise<void> = Promise.resolve();

  constructor(file: string, log: Logger) {
    this.#file = file;
    this.#log = log;
  }

  send(event: OutgoingEvent): void {
    const line = `${JSON.stringify(event)}\n`;
    this.#chain = this.#chain.then(() =>
      appendFile(this.#file, line, { mode: 0o600 }).catch((error: unknown) =>
        this.#log.error({ err: error, file: this.#file }, "could not append a response event"),
      ),
    );
  }

  drain(): Promise<void> {
    return this.#chain;
  }

  stop(): Promise<void> {
    return this.#chain;
  }
}
