import type { ErrorBody } from "@vigil/contract";

/** An API error in plain words: its stable code, the message, and what to do next. */
export class ApiError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly status: number;
  readonly challenge: { id: string; methods: string[] } | undefined;

  constructor(status: number, body: Partial<ErrorBody["error"]> | undefined) {
    super(body?.message ?? `the server answered ${status}`);
    this.status = status;
    this.code = body?.code ?? (status === 0 ? "NETWORK" : "HTTP_" + String(status));
    this.hint = body?.hint;
    this.challenge = body?.challenge;
  }
}

const CSRF_COOKIE = "__Host-vigil-csrf";

/** The session's CSRF token: the login response gave it, and the page can read it back from its cookie. */
function csrfToken(): string | undefined {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return rest.join("=");
  }
  return undefined;
}

type Listener = () => void;
const sessionEndedListeners = new Set<Listener>();

/** Called when any request finds the session gone (401): the app shows the login page. */
export function onSessionEnded(listener: Listener): () => void {
  sessionEndedListeners.add(listener);
  return () => sessionEndedListeners.delete(listener);
}

type StepListener = (code: "AUTH_PASSWORD_CHANGE_REQUIRED" | "AUTH_MFA_ENROLLMENT_REQUIRED") => void;
const stepListeners = new Set<StepListener>();

/** Called when a request is refused until the operator changes a one-time password or enrols a second factor. */
export function onStepRequired(listener: StepListener): () => void {
  stepListeners.add(listener);
  return () => stepListeners.delete(listener);
}

const SESSION_GONE = new Set(["AUTH_REQUIRED", "AUTH_TOKEN_EXPIRED", "AUTH_TOKEN_REVOKED", "AUTH_TOKEN_INVALID"]);

/** Calls the API with the console session (cookie), the CSRF token on state-changing requests. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") {
    const token = csrfToken();
    if (token !== undefined) headers["x-csrf-token"] = token;
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, {
      message: "the Vigil server cannot be reached",
      hint: "Check that `vigil up` is running, then reload the page.",
    });
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, (parsed as Partial<ErrorBody> | undefined)?.error);
    if (response.status === 401 && SESSION_GONE.has(error.code) && !path.startsWith("/api/v1/auth/session")) {
      for (const l of sessionEndedListeners) l();
    }
    if (error.code === "AUTH_PASSWORD_CHANGE_REQUIRED" || error.code === "AUTH_MFA_ENROLLMENT_REQUIRED") {
      for (const l of stepListeners) l(error.code);
    }
    throw error;
  }
  return parsed as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});

/** Formats an ISO time for people (local time, seconds). */
export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { hour12: false });
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 1000) return `${value.toFixed(value < 10 ? 2 : 0)} ms`;
  if (value < 120_000) return `${(value / 1000).toFixed(1)} s`;
  return `${(value / 60_000).toFixed(1)} min`;
}
