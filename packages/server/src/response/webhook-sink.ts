import { createHmac } from "node:crypto";
import type { Clock, Logger } from "../core/index.js";
import type { SignalBus } from "../signals/index.js";
import type { EventSink, OutgoingEvent } from "./outgoing-event.js";

/** An event that could not be delivered after every attempt. */
export interface DeadLetter {
  readonly id: string;
  readonly at: number;
  readonly sink: string;
  readonly url: string;
  readonly attempts: number;
  readonly error: string;
  readonly event: OutgoingEvent;
}

/** Port: the store keeps dead letters (SQLite: migration 10). */
export interface DeadLetterRepository {
  add(letter: DeadLetter): Promise<void>;
  list(limit: number): Promise<DeadLetter[]>;
}

export interface WebhookSinkOptions {
  readonly url: string;
  readonly secret: Buffer;
  readonly maxAttempts: number;
  /** Wait before the first retry; doubled each time (1 s, 2 s, 4 s...). */
  readonly backoffMs: number;
  readonly timeoutMs: number;
  readonly deadLetters: DeadLetterRepository;
  readonly bus: SignalBus;
  readonly clock: Clock;
  readonly log: Logger;
  /** Injected so that tests do not sleep through the backoff. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly fetch?: typeof fetch;
}

/**
 * The signature a receiver checks: `X-Vigil-Signature: sha256=<hex>` where hex is
 * HMAC-SHA256(secret, `${X-Vigil-Timestamp}.${body}`) (the scheme of Stripe's and GitHub's
 * webhooks: the timestamp bound into the MAC lets a receiver refuse replays).
 */
export function signWebhook(secret: Buffer, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * Signed webhooks: events are delivered in order, one at a time; a failure (network error,
 * timeout, non-2xx) is retried with exponential backoff up to `maxAttempts`, then recorded as
 * a dead letter (`notification.dead_lettered`) and the queue moves on. Nothing is dropped silently.
 */
export class WebhookSink implements EventSink {
  readonly name = "webhook";
  readonly #o: WebhookSinkOptions;
  readonly #queue: OutgoingEvent[] = [];
  #running: Promise<void> | undefined;
  #stopped = false;
  #delivered = 0;

  constructor(options: WebhookSinkOptions) {
    this.#o = options;
  }

  get delivered(): number {
    return this.#delivered;
  }

  send(event: OutgoingEvent): void {
    if (this.#stopped) return;
    this.#queue.push(event);
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
  }

  async drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async stop(): Promise<void> {
    await this.drain();
    this.#stopped = true;
  }

  async #run(): Promise<void> {
    for (let event = this.#queue.shift(); event !== undefined; event = this.#queue.shift()) await this.#deliver(event);
  }

  async #deliver(event: OutgoingEvent): Promise<void> {
    const o = this.#o;
    const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const doFetch = o.fetch ?? fetch;
    const body = JSON.stringify(event);
    let error = "";
    for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
      if (attempt > 1) await sleep(o.backoffMs * 2 ** (attempt - 2));
      const timestamp = String(Math.floor(o.clock.now() / 1000));
      try {
        const response = await doFetch(o.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "vigil-webhook/1",
            "x-vigil-event": event.type,
            "x-vigil-delivery": event.id,
            "x-vigil-timestamp": timestamp,
            "x-vigil-attempt": String(attempt),
            "x-vigil-signature": signWebhook(o.secret, timestamp, body),
          },
          body,
          signal: AbortSignal.timeout(o.timeoutMs),
          redirect: "manual",
        });
        await response.body?.cancel();
        if (response.status >= 200 && response.status < 300) {
          this.#delivered++;
          return;
        }
        error = `HTTP ${response.status}`;
      } catch (e) {
        error = (e as Error).name === "TimeoutError" ? `no answer within ${o.timeoutMs} ms` : (e as Error).message;
      }
      o.log.warn({ event: event.id, attempt, error }, "webhook delivery failed");
    }
    const letter: DeadLetter = {
      id: event.id,
      at: o.clock.now(),
      sink: this.name,
      url: o.url,
      attempts: o.maxAttempts,
      error,
      event,
    };
    try {
      await o.deadLetters.add(letter);
    } catch (e) {
      o.log.error({ err: e, event: event.id }, "could not record a dead letter");
    }
    o.bus.emit("notification.dead_lettered", {
      event: event.id,
      type: event.type,
      incident: event.incident.id,
      sink: this.name,
      attempts: o.maxAttempts,
      error,
    });
  }
}

/** Dead letters in memory (tests, and a store without the table). */
export class MemoryDeadLetters implements DeadLetterRepository {
  readonly letters: DeadLetter[] = [];
  async add(letter: DeadLetter): Promise<void> {
    this.letters.push(letter);
  }
  async list(limit: number): Promise<DeadLetter[]> {
    return this.letters.slice(-limit).reverse();
  }
}
