import type { Logger } from "pino";

/**
 * A typed, in-process event bus for facts (signals). `M` maps a signal name to its payload.
 * Delivery is synchronous and in subscription order; a throwing handler is logged and does
 * not stop delivery to the others (one faulty subscriber must not silence a security fact).
 * A broker-backed bus (Redis/NATS) implements the same interface when Vigil scales out.
 */
export interface EventBus<M extends object> {
  emit<K extends keyof M & string>(name: K, payload: M[K]): void;
  on<K extends keyof M & string>(name: K, handler: (payload: M[K]) => void): () => void;
  /** Every signal, for audit and metrics. */
  onAny(handler: (name: keyof M & string, payload: M[keyof M]) => void): () => void;
}

type Handler = (payload: never) => void;
type AnyHandler = (name: string, payload: unknown) => void;

export class InProcessBus<M extends object> implements EventBus<M> {
  readonly #handlers = new Map<string, Handler[]>();
  #any: AnyHandler[] = [];
  readonly #log: Logger | undefined;

  constructor(log?: Logger) {
    this.#log = log;
  }

  emit<K extends keyof M & string>(name: K, payload: M[K]): void {
    const list = this.#handlers.get(name);
    if (list !== undefined) {
      for (const handler of list) this.#deliver(name, () => (handler as (p: M[K]) => void)(payload));
    }
    for (const handler of this.#any) this.#deliver(name, () => handler(name, payload));
  }

  on<K extends keyof M & string>(name: K, handler: (payload: M[K]) => void): () => void {
    const list = this.#handlers.get(name) ?? [];
    // Copy on write: emit iterates a stable array even if a handler unsubscribes.
    this.#handlers.set(name, [...list, handler]);
    return () => {
      const current = this.#handlers.get(name) ?? [];
      this.#handlers.set(
        name,
        current.filter((h) => h !== handler),
      );
    };
  }

  onAny(handler: (name: keyof M & string, payload: M[keyof M]) => void): () => void {
    this.#any = [...this.#any, handler as AnyHandler];
    return () => {
      this.#any = this.#any.filter((h) => h !== handler);
    };
  }

  #deliver(name: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#log?.error({ err: error, signal: name }, "signal handler failed");
    }
  }
}
