import { errorCatalogue, type ErrorCode } from "@vigil/contract";

export type { ErrorCode };

export interface VigilErrorOptions {
  /** What the user should do next; shown on the CLI and in API error bodies. */
  readonly hint?: string;
  readonly cause?: unknown;
  /** Structured, non-secret facts for logs (never echoed over the wire unless `public`). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * Every error Vigil raises on purpose: a stable code from the contract's catalogue, a
 * message that says what happened, and a hint that says what to do next.
 */
export class VigilError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: VigilErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VigilError";
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** One line for a terminal: `CODE: message (hint)`. */
  toLine(): string {
    return `${this.code}: ${this.message}${this.hint ? `\n  -> ${this.hint}` : ""}`;
  }
}

export function isVigilError(error: unknown, code?: ErrorCode): error is VigilError {
  return error instanceof VigilError && (code === undefined || error.code === code);
}

export function describeCode(code: ErrorCode): string {
  return errorCatalogue[code].meaning;
}
