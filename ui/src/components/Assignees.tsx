import { useEffect, useState } from 'react';
import { readSession, SESSION_CHANGED, type SessionInfo } from '../api';

/** Who this browser speaks for (null until known, or when the server has no users). */
export function useSession(): SessionInfo | null {
  const [session, setSession] = useState<SessionInfo | null>(null);
  useEffect(() => {
    let live = true;
    const load = () => {
      readSession()
        .then((found) => live && setSession(found))
        .catch(() => undefined); // the pages work without it, just without "you"
    };
    load();
    window.addEventListener(SESSION_CHANGED, load);
    return () => {
      live = false;
      window.removeEventListener(SESSION_CHANGED, load);
    };
  }, []);
  return session;
}

/** Whether `assignee` ("alice" or "group:finance") names the signed-in person. */
function isMe(assignee: string, session: SessionInfo | null): boolean {
  if (!session || session.mode !== 'users' || session.kind !== 'user') return false;
  if (assignee.startsWith('group:')) return session.groups.includes(assignee.slice('group:'.length));
  return assignee === session.actor;
}

/** A pause's assignees, the signed-in person's entries marked: "you", "group:finance (you)". */
export function Assignees({ assignees, session }: { assignees: string[]; session: SessionInfo | null }) {
  if (!assignees.length) return <span className="muted">anyone who may resume</span>;
  return (
    <span data-testid="assignees">
      {assignees.map((assignee, index) => (
        <span key={assignee}>
          {index > 0 && ', '}
          {isMe(assignee, session) ? (
            <strong className="assigned-to-you">
              {assignee.startsWith('group:') ? `${assignee} (you)` : 'you'}
            </strong>
          ) : (
            assignee
          )}
        </span>
      ))}
    </span>
  );
}
