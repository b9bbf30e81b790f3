import type { EventBus } from "../core/index.js";

/**
 * The one catalogue of security signals (STYLE habit 8): dotted, past-tense names for
 * facts. Commands never travel as signals; they go through ports.
 * docs/signals.md is generated from `signalDescriptions` and a test keeps it in sync.
 */
export interface SignalMap {
  "platform.started": { version: string; apiUrl: string };
  "platform.stopping": { reason: string };
  "operator.created": { operator: string; by: string };
  "operator.password_changed": { operator: string };
  "auth.succeeded": { operator: string; tokenId: string; remote: string };
  "auth.failed": { username: string; remote: string; reason: "unknown_operator" | "bad_password" };
  "auth.denied": { remote: string; route: string; code: string; tokenId?: string };
  "token.issued": { operator: string; tokenId: string; scopes: string[]; expiresAt: string };
  "token.revoked": { operator: string; tokenId: string };
  "device.registered": { device: string; profile: string | null; by: string };
}

export type SignalName = keyof SignalMap;
export type SignalBus = EventBus<SignalMap>;

export const signalDescriptions: Record<SignalName, string> = {
  "platform.started": "Every service has started and the API is ready.",
  "platform.stopping": "A graceful shutdown began (signal or operator).",
  "operator.created": "An operator account was created (including the first admin).",
  "operator.password_changed": "An operator changed their password.",
  "auth.succeeded": "An operator logged in and received an API token.",
  "auth.failed": "A login attempt failed (unknown operator or wrong password).",
  "auth.denied": "An API request was refused for a missing, bad, expired or under-scoped token.",
  "token.issued": "An API token was issued.",
  "token.revoked": "An API token was revoked.",
  "device.registered": "An operator pre-registered a device; it stays pending until it enrolls.",
};
