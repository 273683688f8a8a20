import { useState } from 'react';
import { api, FINAL_STATE_TYPES, type FlowRun } from '../api';
import { announceChange } from '../live';
import { ErrorMessage } from './common';

/** "Cancel run", then a confirm step; a refusal (say, the run finished meanwhile) shows inline. */
export function CancelRun({ run, onCancelled }: { run: FlowRun; onCancelled: (run: FlowRun) => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const final = FINAL_STATE_TYPES.includes(run.state.type);
  if (final && !error) return null;

  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      const cancelled = await api.cancel(run.id);
      setConfirming(false);
      onCancelled(cancelled);
      announceChange();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="cancel-run" data-testid="cancel-run">
      {final ? null : confirming ? (
        <div className="confirm" role="group" aria-label="Confirm cancelling this run">
          <span>Cancel {run.name}? Its process is stopped and it cannot be resumed.</span>
          <button type="button" className="btn btn-danger" onClick={cancel} disabled={busy}>
            {busy ? 'Cancelling…' : 'Yes, cancel run'}
          </button>
          <button type="button" className="btn" onClick={() => setConfirming(false)} disabled={busy}>
            Keep it
          </button>
        </div>
      ) : (
        <button type="button" className="btn btn-danger-outline" onClick={() => setConfirming(true)}>
          Cancel run
        </button>
      )}
      <ErrorMessage error={error} />
    </div>
  );
}
