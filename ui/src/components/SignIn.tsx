import { useEffect, useState, type FormEvent } from 'react';
import {
  ApiError,
  forgetApiKey,
  readSession,
  SESSION_CHANGED,
  signIn,
  signOut,
  ssoSignInUrl,
  type SessionInfo,
} from '../api';

/**
 * The sign-in page of a server with users: a name and a password, for a session cookie; and,
 * when the server has SSO, a link through the identity provider that ends in the same cookie.
 */
export function SignIn({ sso = false }: { sso?: boolean }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(name.trim(), password);
      setPassword('');
    } catch (caught) {
      setError(caught instanceof ApiError ? String(caught.message) : 'cannot reach the server');
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="overlay sign-in-page">
      <form className="card key-prompt" onSubmit={submit} aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in to inloop</h2>
        {error && (
          <p className="alert alert-error" role="alert">
            {error}
          </p>
        )}
        {sso && (
          <>
            <a
              className="btn btn-primary sso-sign-in"
              href={ssoSignInUrl(window.location.pathname + window.location.search)}
              // The session cookie will speak for this browser: a stored key would be sent first.
              onClick={() => forgetApiKey()}
            >
              Sign in with SSO
            </a>
            <p className="muted sign-in-or">or with a password</p>
          </>
        )}
        <label htmlFor="sign-in-name">User name</label>
        <input
          id="sign-in-name"
          name="username"
          autoComplete="username"
          autoFocus
          value={name}
          onChange={(event) => setName(event.target.value)}
        />
        <label htmlFor="sign-in-password">Password</label>
        <input
          id="sign-in-password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
        />
        <button type="submit" className="btn btn-primary" disabled={busy || !name.trim() || !password}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}

/** In the nav: who is signed in, and a way out (only for UI sessions of a server with users). */
export function Account() {
  const [session, setSession] = useState<SessionInfo | null>(null);
  useEffect(() => {
    let live = true;
    const load = () => {
      readSession()
        .then((found) => live && setSession(found))
        .catch(() => undefined);
    };
    load();
    window.addEventListener(SESSION_CHANGED, load);
    return () => {
      live = false;
      window.removeEventListener(SESSION_CHANGED, load);
    };
  }, []);
  if (!session || session.mode !== 'users' || session.kind !== 'user') return null;
  const leave = async () => {
    await signOut();
    window.location.reload();
  };
  return (
    <span className="account" data-testid="account">
      <span className="account-name" title={session.role ? `role: ${session.role}` : undefined}>
        {session.actor}
      </span>
      <button type="button" className="btn btn-small" onClick={leave}>
        Sign out
      </button>
    </span>
  );
}
