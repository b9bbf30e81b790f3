import { newId, type Clock, type OperatorId } from "../core/index.js";

/** What the first step of a login asked for, kept until the second factor answers. */
export interface PendingLogin {
  readonly purpose: "token" | "session";
  readonly scopes?: readonly string[] | undefined;
  readonly ttlSeconds?: number | undefined;
  readonly label?: string | undefined;
}

export interface LoginChallenge {
  readonly id: string;
  readonly operatorId: OperatorId;
  readonly username: string;
  readonly remote: string;
  readonly pending: PendingLogin;
  readonly expiresAt: number;
  attempts: number;
  webauthnChallenge: string | undefined;
}

/**
 * Short-lived challenges between a correct password and the second factor: in memory,
 * bounded, each good for a few wrong answers and one right one. A challenge id alone grants
 * nothing.
 */
export class LoginChallenges {
  readonly #byId = new Map<string, LoginChallenge>();
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #max: number;
  static readonly MAX_ATTEMPTS = 5;

  constructor(clock: Clock, ttlMs: number, max = 10_000) {
    this.#clock = clock;
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  open(input: Omit<LoginChallenge, "id" | "expiresAt" | "attempts" | "webauthnChallenge">): LoginChallenge {
    const now = this.#clock.now();
    for (const [id, c] of this.#byId) {
      if (c.expiresAt > now && this.#byId.size < this.#max) break;
      this.#byId.delete(id);
    }
    const challenge: LoginChallenge = {
      ...input,
      id: newId("mfa", 18),
      expiresAt: now + this.#ttlMs,
      attempts: 0,
      webauthnChallenge: undefined,
    };
    this.#byId.set(challenge.id, challenge);
    return challenge;
  }

  /** The live challenge with this id, or undefined (unknown, expired or used up). */
  get(id: string): LoginChallenge | undefined {
    const c = this.#byId.get(id);
    if (c === undefined) return undefined;
    if (c.expiresAt <= this.#clock.now() || c.attempts >= LoginChallenges.MAX_ATTEMPTS) {
      this.#byId.delete(id);
      return undefined;
    }
    return c;
  }

  close(id: string): void {
    this.#byId.delete(id);
  }
}
