import { useEffect, useState, type FormEvent } from 'react';
import { onKeyPrompt, readSession, submitApiKey, type KeyPrompt as Prompt } from '../api';
import { SignIn } from './SignIn';

/**
 * Shown when the server answers 401. A server with users asks for a sign-in; a server with a
 * shared key asks for the key once and remembers it.
 */
export function KeyPrompt() {
  const [prompt, setPrompt] = useState<Prompt | null>(null);
  const [value, setValue] = useState('');
  const [mode, setMode] = useState<string | null>(null);
  const [sso, setSso] = useState(false);
  useEffect(() => onKeyPrompt(setPrompt), []);
  useEffect(() => {
    if (!prompt) return;
    let live = true;
    readSession()
      .then((session) => {
        if (!live) return;
        setMode(session?.mode ?? 'shared-key');
        setSso(session?.sso ?? false);
      })
      .catch(() => live && setMode('shared-key'));
    return () => {
      live = false;
    };
  }, [prompt]);
  if (!prompt || mode === null) return null;
  if (mode === 'users') return <SignIn sso={sso} />;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (value.trim()) submitApiKey(value.trim());
    setValue('');
  };
  return (
    <div className="overlay">
      <form className="card key-prompt" onSubmit={submit} aria-labelledby="key-title">
        <h2 id="key-title">API key required</h2>
        <p>
          This inloop server requires an API key (<code>INLOOP_API_KEY</code>). It is kept in this browser's local
          storage and sent with every request.
        </p>
        {prompt.rejected && (
          <p className="alert alert-error" role="alert">
            The server rejected that key. Check it and try again.
          </p>
        )}
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="current-password"
          autoFocus
          value={value}
          onChange={(event) => setValue(event.target.value)}
        />
        <button type="submit" className="btn btn-primary" disabled={!value.trim()}>
          Save key
        </button>
      </form>
    </div>
  );
}
