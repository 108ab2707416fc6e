import { useEffect, useId, useRef, useState } from 'react';
import { sendControl } from '../app/api';
import {
  confirmation,
  controlFeature,
  controlView,
  failureOf,
  loadControl,
  outcomeOf,
  pendingText,
  type ControlOutcome,
} from '../app/control';
import { useAgents, useControlOffered } from '../app/hooks';
import type { ControlAction, Session, SessionControl } from '../app/types';
import { CodeText } from './CodeText';
import { ControlDialog } from './ControlDialog';

/** The session page's Control section: interrupt, kill, restart the agent's process. Hidden on a
 *  server without control (or until it said it has it). */
export function ControlPanel({ session }: { session: Session }) {
  const offered = useControlOffered();
  useEffect(() => {
    void controlFeature.load();
  }, []);
  return offered ? <ControlSection session={session} /> : null;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function ControlSection({ session: s }: { session: Session }) {
  const agents = useAgents();
  const uid = useId();
  const [control, setControl] = useState<SessionControl | null>(null);
  const [error, setError] = useState<string | null>(null);
  /** Bumped after an action: what can be done is read again. */
  const [checks, setChecks] = useState(0);
  const [chosen, setChosen] = useState<ControlAction | null>(null);
  const [pending, setPending] = useState<ControlAction | null>(null);
  const [outcome, setOutcome] = useState<ControlOutcome | null>(null);
  const buttons = useRef(new Map<ControlAction, HTMLButtonElement>());
  const status = useRef<HTMLParagraphElement>(null);

  // What can be done changes with the process: read again when the live feed moves the session's
  // state or its pid, and after an action.
  const pid = s.pid ?? null;
  useEffect(() => {
    const ctl = new AbortController();
    loadControl(s.id, ctl.signal).then(
      (c) => {
        setControl(c);
        setError(null);
      },
      (e: unknown) => {
        if (!ctl.signal.aborted) setError(message(e));
      },
    );
    return () => ctl.abort();
  }, [s.id, s.state, pid, checks]);

  const act = async (action: ControlAction) => {
    setPending(action);
    setOutcome(null);
    try {
      setOutcome(outcomeOf(action, await sendControl(s.id, action)));
    } catch (e) {
      setOutcome(failureOf(action, e));
    } finally {
      setPending(null);
      setChecks((n) => n + 1);
    }
  };

  // The buttons are disabled while an action runs: focus goes to the line that says how it goes.
  useEffect(() => {
    if (pending) status.current?.focus();
  }, [pending]);

  const closed = (action: ControlAction, confirmed: boolean) => {
    setChosen(null);
    if (confirmed) void act(action);
    // Cancelled: back to its button; it may be gone (the session ended meanwhile), then another.
    else (buttons.current.get(action) ?? [...buttons.current.values()].find((el) => !el.disabled))?.focus();
  };

  const view = controlView({ control, error, state: s.state, pending });
  const agentName = agents.name(s.agent);
  const headingId = `${uid}-h`;
  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId} className="group-title">
        Control
      </h2>
      <div className="card control">
        {control && control.pid !== null && (
          <p className="muted small">
            Process {control.pid}
            {control.launched && (
              <>
                {' '}
                · started with <code>observatory run</code>
              </>
            )}
          </p>
        )}
        {view.buttons.length > 0 && (
          <ul className="control-list">
            {view.buttons.map((b) => (
              <li key={b.action} className="control-item">
                <button
                  ref={(el) => {
                    if (el) buttons.current.set(b.action, el);
                    else buttons.current.delete(b.action);
                  }}
                  type="button"
                  className={`button${b.destructive ? ' button-danger' : ''}`}
                  disabled={b.disabled}
                  aria-describedby={b.why ? `${uid}-${b.action}` : undefined}
                  onClick={() => setChosen(b.action)}
                >
                  {b.label}
                </button>
                {b.why && (
                  <span id={`${uid}-${b.action}`} className="control-why">
                    <CodeText text={b.why} />
                  </span>
                )}
              </li>
            ))}
          </ul>
        )}
        {view.note && <p className="muted small control-note">{view.note}</p>}
        {/* Always rendered, so that screen readers announce what comes into it. */}
        <p ref={status} tabIndex={-1} role="status" className={`control-outcome${outcome ? ` control-${outcome.tone}` : ''}`}>
          {pending ? pendingText(pending) : outcome && <CodeText text={outcome.text} />}
        </p>
      </div>
      {chosen && (
        <ControlDialog
          confirmation={confirmation(chosen, agentName, s.cwd, control?.actions[chosen] ?? null)}
          onClose={(confirmed) => closed(chosen, confirmed)}
        />
      )}
    </section>
  );
}
