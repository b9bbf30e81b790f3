import type { SessionResponse } from "@vigil/contract";
import { useState } from "preact/hooks";
import { ApiError, api } from "../api.js";
import { ErrorBox } from "../components.js";

/** Console login: name and password, then the current TOTP code (or a recovery code). */
export function LoginPage({ onLoggedIn, notice }: { onLoggedIn: (s: SessionResponse) => void; notice?: string }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [challenge, setChallenge] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const factor = /^\d{6}$/.test(code.trim()) ? { totp: code.trim() } : code.trim() !== "" ? { recoveryCode: code.trim() } : {};
    try {
      const session =
        challenge === undefined
          ? await api<SessionResponse>("POST", "/api/v1/auth/session", { username, password, ...factor })
          : await api<SessionResponse>("POST", "/api/v1/auth/session/mfa", { challengeId: challenge, ...factor });
      onLoggedIn(session);
    } catch (err) {
      if (err instanceof ApiError && err.code === "AUTH_MFA_REQUIRED" && err.challenge !== undefined) {
        setChallenge(err.challenge.id);
        setError(new ApiError(401, { code: err.code, message: "enter the 6-digit code from your authenticator app" }));
      } else setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="login">
      <h1>Vigil</h1>
      <p class="muted">Log in to the console.</p>
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <form onSubmit={(e) => void submit(e)} aria-label="Log in">
        <label>
          Operator name
          <input
            name="username"
            autocomplete="username"
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
            disabled={challenge !== undefined}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            disabled={challenge !== undefined}
          />
        </label>
        <label>
          Authenticator code (or a recovery code)
          <input
            name="totp"
            inputMode="numeric"
            autocomplete="one-time-code"
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
      <ErrorBox error={error} />
    </main>
  );
}

/** A one-time password must be replaced before anything else. */
export function ChangePasswordPage({ onDone }: { onDone: () => void }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  return (
    <main id="main" class="login">
      <h1>Choose your password</h1>
      <p class="muted">You logged in with a one-time password. Choose your own (12 characters or more).</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          api("POST", "/api/v1/auth/password", { currentPassword: current, newPassword: next }).then(onDone, setError);
        }}
      >
        <label>
          One-time password
          <input
            type="password"
            autocomplete="current-password"
            required
            value={current}
            onInput={(e) => setCurrent(e.currentTarget.value)}
          />
        </label>
        <label>
          New password
          <input
            type="password"
            autocomplete="new-password"
            minLength={12}
            required
            value={next}
            onInput={(e) => setNext(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Change password</button>
      </form>
      <ErrorBox error={error} />
    </main>
  );
}
