// SPDX-License-Identifier: Apache-2.0
/** The login form: the collector's token (or its read-only token) in exchange for a session cookie. */
import { useState } from "preact/hooks";
import { ApiError, login, type Role } from "./api.js";

/** Why a login failed, in words. */
export function loginError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return "That token is not accepted by this collector.";
    if (err.status === 429) return "Too many failed logins from this address: wait a minute and try again.";
    return `Login failed: ${err.message}`;
  }
  return `Login failed: ${err instanceof Error ? err.message : String(err)}`;
}

/** The login page. */
export function Login(props: { onLogin(role: Role): void; error?: string | undefined }) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(props.error);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (token.trim() === "") return setError("Enter the collector's token.");
    setBusy(true);
    setError(undefined);
    try {
      const role = await login(token.trim());
      setToken("");
      props.onLogin(role);
    } catch (err) {
      setError(loginError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="login-box" onSubmit={submit}>
        <h1>Vigil</h1>
        <p>Sign in with the collector's token, or its read-only token.</p>
        <label>
          Token
          <input
            name="token"
            type="password"
            autocomplete="current-password"
            value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            disabled={busy}
            autofocus
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error !== undefined && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
